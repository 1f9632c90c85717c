from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class AuditEntry(SQLModel, table=True):
    """Append-only log; each entry commits to the previous one by hash."""

    __tablename__ = "audit_entry"

    seq: int = Field(primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=2048)
    action: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=200, index=True)
    data: str = Field(sa_type=Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(unique=True, max_length=64)
