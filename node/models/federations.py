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
    # Families the member body counts, for federations that weigh votes by them. On a
    # "has_member" link: the number the federation accepted (0: none declared, the body
    # counts once) and a newer declaration waiting for its answer (None: none waiting;
    # until it is accepted the old number holds). A body's weight is what its federation
    # accepted, never what it says of itself in a mandate. On a "member_of" link they
    # mirror what we declared and what was accepted.
    families: int = Field(default=0)
    families_declared: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
