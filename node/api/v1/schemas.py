"""Request bodies of the JSON API (responses are plain dicts, documented per route)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Body
from pydantic import BaseModel, Field, model_validator

from node.models.base import MAX_ID


class ApiModel(BaseModel):
    """Base of every request body: text must not carry NUL characters, which no
    database stores (PostgreSQL refuses them) and no person types."""

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        def walk(value: Any) -> None:
            if isinstance(value, str) and "\x00" in value:
                raise ValueError("text must not contain NUL characters")
            if isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        walk(data)
        return data


def defaults(model: type[ApiModel]) -> Any:
    """The parameter default of a request body whose every field has a default: a
    request with no body at all takes them all, as `{}` would (tests/test_api_interop.py
    walks the routes for a body that forgot it)."""
    return Body(default_factory=model)


class AcceptInvitation(ApiModel):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=10, max_length=200)
    display_name: str = Field(default="", max_length=200)
    family: str = Field(default="", max_length=128)


class Login(ApiModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    label: str = Field(default="", max_length=100)


class NewInvitation(ApiModel):
    role: str = "member"
    valid_days: int = Field(default=7, ge=1, le=60)


class NewBody(ApiModel):
    handle: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: str
    public: bool = True


class StatuteIn(ApiModel):
    rule: str = "majority"
    threshold: str = "2/3"
    quorum_basis: str = "members"
    quorum: str = "1/2"
    voting_days: int = 7
    secret_ballot: bool = False
    admission: str = "facilitators"
    weighting: str = "bodies"


class NewProposal(ApiModel):
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=100_000)
    affects: list[str] = Field(default_factory=list, max_length=100)


class NewComment(ApiModel):
    text: str = Field(min_length=1, max_length=20_000)
    parent_id: int | None = None


class NewAmendment(ApiModel):
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=100_000)
    reason: str = Field(default="", max_length=20_000)


class AmendmentDecision(ApiModel):
    accept: bool


class OpenVote(ApiModel):
    closes_at: datetime | None = None


class CastVote(ApiModel):
    version: int = Field(ge=1)
    choice: str
    reason: str = Field(default="", max_length=5_000)


class AmendmentBallot(ApiModel):
    choice: str
    reason: str = Field(default="", max_length=5_000)


class MeetingDecision(ApiModel):
    proposal_id: int = Field(ge=1, le=MAX_ID)
    votes_for: int = Field(default=0, ge=0, le=MAX_ID, alias="for")
    against: int = Field(default=0, ge=0, le=MAX_ID)
    abstain: int = Field(default=0, ge=0, le=MAX_ID)
    block: int = Field(default=0, ge=0, le=MAX_ID)


class NewMeeting(ApiModel):
    held_at: datetime
    place: str = Field(default="", max_length=300)
    attendance: int = Field(ge=0, le=MAX_ID)
    families: int = Field(default=0, ge=0, le=MAX_ID)
    agenda: str = Field(default="", max_length=50_000)
    minutes: str = Field(default="", max_length=200_000)
    decisions: list[MeetingDecision] = Field(default_factory=list, max_length=100)
    assembly_id: int | None = Field(default=None, ge=1, le=MAX_ID,
                                    description="the assembly called ahead that this was "
                                    "(its Event then links to this record)")


class Execution(ApiModel):
    state: str
    notes: str = Field(default="", max_length=20_000)


class NewEvaluation(ApiModel):
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=20_000)


class SendUp(ApiModel):
    federation: str | None = Field(default=None, max_length=2048)


class NewMandate(ApiModel):
    position: str
    spokespersons: list[int] = Field(min_length=1, max_length=20)
    amendments: list[str] = Field(default_factory=list, max_length=50)
    limits: str = Field(default="", max_length=5_000)
    expires_at: datetime | None = None


class Recall(ApiModel):
    reason: str = Field(default="", max_length=5_000)


class MandatedChoice(ApiModel):
    choice: str
