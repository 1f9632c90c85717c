from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class Follower(SQLModel, table=True):
    """A remote actor that follows one of our bodies (accepted)."""

    __tablename__ = "follower"
    __table_args__ = (UniqueConstraint("actor_id", "follower_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int = Field(foreign_key="local_actor.id", index=True)
    follower_uri: str = Field(max_length=2048)
    inbox: str = Field(max_length=2048)
    shared_inbox: str = Field(default="", max_length=2048)
    follow_activity_id: str = Field(default="", max_length=2048)
    created_at: datetime = Field(default_factory=utcnow)


class Following(SQLModel, table=True):
    """A remote actor one of our bodies follows (or asked to)."""

    __tablename__ = "following"
    __table_args__ = (UniqueConstraint("actor_id", "target_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int = Field(foreign_key="local_actor.id", index=True)
    target_uri: str = Field(max_length=2048)
    follow_activity_id: str = Field(max_length=2048)
    # pending -> accepted | rejected
    state: str = Field(default="pending", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
