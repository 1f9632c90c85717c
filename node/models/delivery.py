from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class Delivery(SQLModel, table=True):
    """One row per (activity, target inbox): the durable delivery queue."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("outbox_id", "inbox"),
        Index("ix_delivery_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox_item.id", index=True)
    inbox: str = Field(max_length=2048)
    host: str = Field(index=True, max_length=255)
    # queued -> delivered | failed
    state: str = Field(default="queued", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None)
    last_status: int | None = Field(default=None)
    last_error: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PeerHost(SQLModel, table=True):
    """What this node knows about another host: blocks, circuit breaker, last error.

    The breaker's graph and the meaning of its columns are in node/outbox/breaker.py.
    """

    __tablename__ = "peer_host"

    host: str = Field(primary_key=True, max_length=255)
    blocked: bool = Field(default=False)
    consecutive_failures: int = Field(default=0)
    open_until: datetime | None = Field(default=None)
    # closed | open | half_open
    breaker: str = Field(default="closed", max_length=16)
    # How many times in a row the breaker opened without a success between: the
    # cooldown doubles with each.
    trips: int = Field(default=0)
    # The one delivery let through as a probe and how long its claim holds; only the
    # process whose conditional UPDATE set these sends it.
    probe_id: int | None = Field(default=None)
    probe_until: datetime | None = Field(default=None)
    last_error: str = Field(default="", sa_type=Text)
    last_error_at: datetime | None = Field(default=None)
    last_success_at: datetime | None = Field(default=None)
