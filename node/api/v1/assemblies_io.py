"""Request and response schemas of the assemblies' part of the JSON API."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from node.api.v1.outputs import Out
from node.api.v1.schemas import ApiModel


class NewAssembly(ApiModel):
    starts_at: datetime = Field(description="ISO 8601; without an offset, the node's zone")
    ends_at: datetime | None = None
    place: str = Field(min_length=1, max_length=300)
    address: str = Field(default="", max_length=500)
    title: str = Field(default="", max_length=300,
                       description="empty: «Asamblea de» and the body's name")
    description: str = Field(default="", max_length=20_000)
    agenda: list[int] = Field(default_factory=list, max_length=100,
                              description="ids of this body's proposals in deliberation "
                                          "or vote, in the order they will be taken up")


class AssemblyChange(ApiModel):
    """Only the fields sent change; `ends_at: null` removes the closing time."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    place: str | None = Field(default=None, min_length=1, max_length=300)
    address: str | None = Field(default=None, max_length=500)
    title: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    agenda: list[int] | None = Field(default=None, max_length=100)


class AssemblyCancel(ApiModel):
    note: str = Field(default="", max_length=2000, description="why (it is published)")


class AgendaItem(Out):
    proposal: int
    title: str


class AssemblyOut(Out):
    id: int
    body: str = Field(description="the body's handle")
    state: str = Field(description="scheduled, held or cancelled")
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime | None
    timezone: str = Field(description="IANA zone the times are shown in")
    place: str
    address: str
    agenda: list[AgendaItem]
    sequence: int = Field(description="grows with every change (iCalendar SEQUENCE)")
    note: str = Field(description="why it was cancelled")
    meeting: int | None = Field(description="the recorded meeting, once held")
    event: str = Field(description="the ActivityStreams Event's id")
    url: str = Field(description="its page")
    actions: list[str] = Field(description="what the caller may do now: change, cancel, "
                                           "hold (record its meeting)")
