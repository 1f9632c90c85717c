from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class InboxItem(SQLModel, table=True):
    """An accepted incoming activity, stored before the node answers 202.

    Processing reads from here, so a crash after the answer loses nothing.
    """

    __tablename__ = "inbox_item"
    __table_args__ = (Index("ix_inbox_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(unique=True, max_length=2048)
    activity_type: str = Field(default="", max_length=64)
    actor: str = Field(default="", max_length=2048)
    recipient: str = Field(default="", max_length=64)
    signer: str = Field(default="", max_length=2048)
    body: str = Field(sa_type=Text)
    received_at: datetime = Field(default_factory=utcnow)
    # queued -> done | failed
    state: str = Field(default="queued", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None)
    last_error: str = Field(default="", sa_type=Text)
