from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class FederationLink(SQLModel, table=True):
    """Membership between one of our bodies and a remote one.

    direction "member_of": our body belongs (or asked to belong) to the remote federation;
    direction "has_member": the remote body belongs (or asked to) to our federation.
    """

    __tablename__ = "federation_link"
    __table_args__ = (UniqueConstraint("body_id", "remote_uri", "direction"),)

    id: int | None = Field(default=None, primary_key=True)
    body_id: int = Field(foreign_key="local_actor.id", index=True)
    remote_uri: str = Field(max_length=2048)
    remote_inbox: str = Field(default="", max_length=2048)
    direction: str = Field(max_length=16)
    # pending -> accepted | rejected
    state: str = Field(default="pending", max_length=16)
    join_activity_id: str = Field(default="", max_length=2048)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
