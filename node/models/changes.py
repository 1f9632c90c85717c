from __future__ import annotations

from sqlmodel import Field, SQLModel


class NodeChange(SQLModel, table=True):
    """One version counter per kind of shared data (bodies, blocks, keys). A writer
    bumps it in the transaction that changes the data; every process of the node
    compares the counters to what it loaded and reloads what moved
    (`node/storage/changes.py`)."""

    __tablename__ = "node_change"

    topic: str = Field(primary_key=True, max_length=32)
    version: int = Field(default=0)
