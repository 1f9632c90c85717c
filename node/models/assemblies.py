from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class Assembly(SQLModel, table=True):
    """An assembly called ahead: when, where and what it will take up. Once it has met
    and its meeting is recorded, it points to that record (`meeting_id`)."""

    __tablename__ = "assembly"

    id: int | None = Field(default=None, primary_key=True)
    body_id: int = Field(foreign_key="local_actor.id", index=True)
    # scheduled -> held | cancelled (node/governance/assemblies.py)
    state: str = Field(default="scheduled", max_length=16, index=True)
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_type=Text)
    starts_at: datetime = Field(index=True)
    ends_at: datetime | None = Field(default=None)
    # The zone people there live by (an IANA name): what calendars show the hour in.
    timezone: str = Field(max_length=64)
    place: str = Field(max_length=300)
    address: str = Field(default="", max_length=500)
    # JSON list of the ids of this body's proposals it will take up, in order.
    agenda: str = Field(default="[]", sa_type=Text)
    # RFC 5545 SEQUENCE: bumped on every change people should see in their calendars.
    sequence: int = Field(default=0)
    note: str = Field(default="", sa_type=Text)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    created_by: int = Field(foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
