"""Request bodies of the JSON API (responses are plain dicts, documented per route)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AcceptInvitation(BaseModel):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=10, max_length=200)
    display_name: str = Field(default="", max_length=200)
    family: str = Field(default="", max_length=128)


class Login(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    label: str = Field(default="", max_length=100)


class NewInvitation(BaseModel):
    role: str = "member"
    valid_days: int = Field(default=7, ge=1, le=60)


class NewBody(BaseModel):
    handle: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: str
    public: bool = True


class StatuteIn(BaseModel):
    rule: str = "majority"
    threshold: str = "2/3"
    quorum_basis: str = "members"
    quorum: str = "1/2"
    voting_days: int = 7
    secret_ballot: bool = False


class NewProposal(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=100_000)
    affects: list[str] = Field(default_factory=list, max_length=100)


class NewComment(BaseModel):
    text: str = Field(min_length=1, max_length=20_000)
    parent_id: int | None = None


class NewAmendment(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=100_000)
    reason: str = Field(default="", max_length=20_000)


class AmendmentDecision(BaseModel):
    accept: bool


class OpenVote(BaseModel):
    closes_at: datetime | None = None


class CastVote(BaseModel):
    version: int = Field(ge=1)
    choice: str
    reason: str = Field(default="", max_length=5_000)


class MeetingDecision(BaseModel):
    proposal_id: int
    votes_for: int = Field(default=0, ge=0, alias="for")
    against: int = Field(default=0, ge=0)
    abstain: int = Field(default=0, ge=0)
    block: int = Field(default=0, ge=0)


class NewMeeting(BaseModel):
    held_at: datetime
    place: str = Field(default="", max_length=300)
    attendance: int = Field(ge=0)
    families: int = Field(default=0, ge=0)
    agenda: str = Field(default="", max_length=50_000)
    minutes: str = Field(default="", max_length=200_000)
    decisions: list[MeetingDecision] = Field(default_factory=list, max_length=100)


class Execution(BaseModel):
    state: str
    notes: str = Field(default="", max_length=20_000)


class NewEvaluation(BaseModel):
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=20_000)
