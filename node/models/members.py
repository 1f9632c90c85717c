from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class Member(SQLModel, table=True):
    """A person with an account on this node."""

    __tablename__ = "member"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    display_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=255)
    family: str = Field(default="", max_length=128)
    language: str = Field(default="es", max_length=8)
    created_at: datetime = Field(default_factory=utcnow)


class Membership(SQLModel, table=True):
    """A member's place in a body, with a role: member, facilitator or spokesperson."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("member_id", "body_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    body_id: int = Field(foreign_key="local_actor.id", index=True)
    role: str = Field(default="member", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class Invitation(SQLModel, table=True):
    """A single-use, expiring invitation to join a body."""

    __tablename__ = "invitation"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    body_id: int = Field(foreign_key="local_actor.id")
    # None when the node itself invited (the first facilitator, from the command line).
    invited_by: int | None = Field(default=None, foreign_key="member.id")
    role: str = Field(default="member", max_length=16)
    expires_at: datetime
    used_at: datetime | None = Field(default=None)
    used_by: int | None = Field(default=None, foreign_key="member.id")
    # Set when a coordinator withdraws it before anyone used it.
    revoked_at: datetime | None = Field(default=None)
    # Why it was withdrawn: "" (a coordinator revoked it) or "maker-left" (its maker
    # stopped coordinating the body: governance.members._void_invitations_by).
    revoked_reason: str = Field(default="", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    """A bearer token a member made for a client; stored hashed, revocable."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    label: str = Field(default="", max_length=100)
    # "api" for tokens a member made for a client; "web" for a browser session.
    kind: str = Field(default="api", max_length=8)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = Field(default=None)
    last_used_at: datetime | None = Field(default=None)


class PasswordReset(SQLModel, table=True):
    """A single-use, short-lived link a coordinator made for a member who lost their
    password. Stored hashed; shown once to the coordinator, who hands it over."""

    __tablename__ = "password_reset"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    member_id: int = Field(foreign_key="member.id", index=True)
    created_by: int = Field(foreign_key="member.id")
    # The body whose coordination made it (what the audit entry names).
    body_id: int = Field(foreign_key="local_actor.id")
    expires_at: datetime
    used_at: datetime | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)
