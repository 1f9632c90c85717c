from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from node.models.base import utcnow

# What makes a stored delivery unique (the conflict target of the inbox's group commit).
DELIVERY = ("activity_id", "delivery_key")


class InboxItem(SQLModel, table=True):
    """An accepted incoming activity, stored before the node answers 202.

    Processing reads from here, so a crash after the answer loses nothing.
    """

    __tablename__ = "inbox_item"
    # One index for both a delivery's uniqueness and an activity's copies (migration
    # 0024): the key alone, a hash, put every new row on a random page of its index.
    __table_args__ = (Index("ix_inbox_due", "state", "next_attempt_at"),
                      Index("ux_inbox_delivery", *DELIVERY, unique=True))

    id: int | None = Field(default=None, primary_key=True)
    # Not unique: the same activity may come from several senders (a stranger relaying
    # a copy before its real sender) and to several of our bodies; each such delivery
    # is its own row (`delivery_key`), and processing handles an activity once per
    # recipient, counting only copies that were accepted.
    activity_id: str = Field(max_length=2048)
    # delivery_key(activity_id, signer, recipient): a sender's retry of a delivery it
    # already made is stored once. (None on rows made by hand, which never collide.)
    delivery_key: str | None = Field(default=None, max_length=64)
    activity_type: str = Field(default="", max_length=64)
    actor: str = Field(default="", max_length=2048)
    recipient: str = Field(default="", max_length=64)
    signer: str = Field(default="", max_length=2048)
    body: str = Field(sa_type=Text)
    received_at: datetime = Field(default_factory=utcnow)
    # queued -> done | refused | failed
    state: str = Field(default="queued", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None)
    last_error: str = Field(default="", sa_type=Text)


def delivery_key(activity_id: str, signer: str, recipient: str) -> str:
    """What makes two deliveries the same one: the activity, the key that signed the
    request and the inbox it was posted to."""
    joined = "\x00".join((activity_id, signer, recipient)).encode("utf-8")
    return hashlib.sha256(joined).hexdigest()
