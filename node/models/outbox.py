from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class OutboxItem(SQLModel, table=True):
    """An activity this node published; the outbox collection pages over these."""

    __tablename__ = "outbox_item"

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int = Field(foreign_key="local_actor.id", index=True)
    activity_id: str = Field(unique=True, max_length=2048)
    activity_type: str = Field(max_length=64)
    object_id: str = Field(default="", index=True, max_length=2048)
    public: bool = Field(default=True)
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, index=True)
