from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class LocalActor(SQLModel, table=True):
    """A body hosted on this node: the primary body, and later its councils."""

    __tablename__ = "local_actor"

    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    summary: str = Field(default="", sa_type=Text)
    level: str = Field(max_length=16)
    actor_type: str = Field(default="Group", max_length=32)
    is_primary: bool = Field(default=False)
    # What kind of assembly this body is (assembly of the commune, communal council,
    # sectoral council, workers' council), and the body it sits inside, if any.
    kind: str = Field(default="assembly", max_length=32)
    parent_id: int | None = Field(default=None, foreign_key="local_actor.id")
    statute: str = Field(default="{}", sa_type=Text)
    public: bool = Field(default=True)
    rsa_private_pem: str = Field(sa_type=Text)
    rsa_public_pem: str = Field(sa_type=Text)
    ed25519_private_pem: str = Field(sa_type=Text)
    ed25519_public_multibase: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


class RemoteActor(SQLModel, table=True):
    """Cached copy of another server's actor and its keys."""

    __tablename__ = "remote_actor"

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(index=True, unique=True, max_length=2048)
    host: str = Field(index=True, max_length=255)
    inbox: str = Field(default="", max_length=2048)
    shared_inbox: str = Field(default="", max_length=2048)
    document: str = Field(sa_type=Text)
    fetched_at: datetime = Field(default_factory=utcnow)
    # Set by a facilitator (or a failed verification) to force a fresh fetch.
    expired: bool = Field(default=False)
