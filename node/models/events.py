from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class Event(SQLModel, table=True):
    """Something a body's members (and the people it names) may want to be told of: a
    vote opened or closing, a decision, a mandate, an exchange proposed. Written in the
    transaction of the change it reports (node/events), read by custom clients as a feed
    (`GET /api/v1/events`) in `id` order, which is the order of the commits."""

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    # The body it concerns: its members see it.
    body_id: int = Field(foreign_key="local_actor.id", index=True)
    subject: str = Field(max_length=200)
    # One sentence in Spanish, with names, for a gateway that forwards it as it is.
    text: str = Field(sa_type=Text)
    data: str = Field(default="{}", sa_type=Text)
    # Set for what is said once only (a vote closing soon): a second one cannot commit.
    once: str | None = Field(default=None, unique=True, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class EventPerson(SQLModel, table=True):
    """A person an event names (a spokesperson given a mandate): they see it even
    where they are not members of its body."""

    __tablename__ = "event_person"

    event_id: int = Field(foreign_key="event.id", primary_key=True)
    member_id: int = Field(foreign_key="member.id", primary_key=True, index=True)
