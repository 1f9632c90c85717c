from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class Proposal(SQLModel, table=True):
    """A matter before a body. Its text lives in versions; votes name a version."""

    __tablename__ = "proposal"

    id: int | None = Field(default=None, primary_key=True)
    body_id: int = Field(foreign_key="local_actor.id", index=True)
    # None for a matter that came from a federation (nobody here wrote it).
    author_id: int | None = Field(default=None, foreign_key="member.id")
    # draft -> deliberation -> vote -> decided -> carried_out -> evaluated
    state: str = Field(default="draft", max_length=16, index=True)
    # JSON list of the actor URIs of the bodies this proposal affects.
    affects: str = Field(default="[]", sa_type=Text)
    # Federated matters. `matter` is the URI of the signed Proposal object (ours once
    # escalated, or the one received); every node's row about it shares that URI.
    matter: str = Field(default="", max_length=2048, index=True)
    # Who votes here: "people" (members) or "bodies" (member bodies, by mandate).
    electorate: str = Field(default="people", max_length=8)
    # Where this body's decision goes as a mandate (the federation that passed the
    # matter down); empty when this body decides it for good.
    answers_to: str = Field(default="", max_length=2048)
    # For our own proposal sent up: pending | sent | refused | taken (the graph is in
    # node/federations/matter_states.py), the federation, and why.
    escalation: str = Field(default="", max_length=16)
    escalated_to: str = Field(default="", max_length=2048)
    escalation_note: str = Field(default="", sa_type=Text)
    # The deciding federation's final decision, once it came back down.
    final_outcome: str = Field(default="", max_length=16)
    final_decision: str = Field(default="", max_length=2048)
    # At a member body: when the deciding federation's vote on the matter closes, as the
    # federation announced when it opened it (None: not opened, or not heard of).
    federation_vote_closes_at: datetime | None = Field(default=None)
    current_version: int = Field(default=1)
    vote_opened_at: datetime | None = Field(default=None)
    closes_at: datetime | None = Field(default=None, index=True)
    # JSON: the body's statute when the vote opened; the vote is counted under it even
    # if the statute changes meanwhile. None before a vote opens.
    vote_statute: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ProposalVersion(SQLModel, table=True):
    __tablename__ = "proposal_version"
    __table_args__ = (UniqueConstraint("proposal_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    number: int
    title: str = Field(max_length=300)
    text: str = Field(sa_type=Text)
    author_id: int | None = Field(default=None, foreign_key="member.id")
    # Why this version exists: "initial", the amendment it came from, or "federation"
    # (a matter's text as the deciding federation sent it).
    origin: str = Field(default="initial", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class Comment(SQLModel, table=True):
    __tablename__ = "comment"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    author_id: int = Field(foreign_key="member.id")
    parent_id: int | None = Field(default=None, foreign_key="comment.id")
    text: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


class Amendment(SQLModel, table=True):
    """A proposed change: the full new text of the proposal, against one version."""

    __tablename__ = "amendment"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    author_id: int = Field(foreign_key="member.id")
    against_version: int
    title: str = Field(max_length=300)
    text: str = Field(sa_type=Text)
    reason: str = Field(default="", sa_type=Text)
    # open -> accepted | rejected, or open -> voting -> accepted | rejected | stale
    state: str = Field(default="open", max_length=16, index=True)
    resulting_version: int | None = Field(default=None)
    # Set when the body votes on the amendment instead of the author deciding.
    closes_at: datetime | None = Field(default=None, index=True)
    # JSON: the body's statute when that vote opened, which governs it to the end.
    vote_statute: str | None = Field(default=None, sa_type=Text)
    # JSON tally of that vote once closed (same shape as a decision's counts).
    record: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


class AmendmentVote(SQLModel, table=True):
    """One member, one vote per amendment put to the body; changeable until close."""

    __tablename__ = "amendment_vote"
    __table_args__ = (UniqueConstraint("amendment_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    amendment_id: int = Field(foreign_key="amendment.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    choice: str = Field(max_length=16)
    reason: str = Field(default="", sa_type=Text)
    cast_at: datetime = Field(default_factory=utcnow)


class Vote(SQLModel, table=True):
    """One member, one vote per proposal; it can change until the vote closes."""

    __tablename__ = "vote"
    __table_args__ = (UniqueConstraint("proposal_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    version: int
    member_id: int = Field(foreign_key="member.id")
    choice: str = Field(max_length=16)
    reason: str = Field(default="", sa_type=Text)
    cast_at: datetime = Field(default_factory=utcnow)


class Decision(SQLModel, table=True):
    """The record of how a proposal was decided, online or in an assembly."""

    __tablename__ = "decision"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", unique=True)
    body_id: int = Field(foreign_key="local_actor.id", index=True)
    version: int
    outcome: str = Field(max_length=16)
    # JSON: the statute applied, counts, electorate, who could vote, who voted what.
    record: str = Field(sa_type=Text)
    method: str = Field(default="online", max_length=16)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    # decided -> in_progress -> carried_out
    execution: str = Field(default="decided", max_length=16)
    execution_notes: str = Field(default="", sa_type=Text)
    activity_id: str = Field(default="", max_length=2048)
    decided_at: datetime = Field(default_factory=utcnow)


class Meeting(SQLModel, table=True):
    """An in-person assembly and what it recorded."""

    __tablename__ = "meeting"

    id: int | None = Field(default=None, primary_key=True)
    body_id: int = Field(foreign_key="local_actor.id", index=True)
    held_at: datetime
    place: str = Field(default="", max_length=300)
    attendance: int = Field(default=0)
    families: int = Field(default=0)
    agenda: str = Field(default="", sa_type=Text)
    minutes: str = Field(default="", sa_type=Text)
    recorded_by: int = Field(foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow)


class Evaluation(SQLModel, table=True):
    __tablename__ = "evaluation"
    __table_args__ = (UniqueConstraint("decision_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    score: int
    comment: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
