"""What the JSON API answers, as schemas for the OpenAPI document.

Routes build their answers as plain dicts (node.api.v1.views) and send them with
an ETag; these models only describe them. They forbid unknown fields, so the
schemathesis run in the tests fails as soon as a view and its schema drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

# Where the JSON API's routes have always found them.
from node.api.problem_docs import PROBLEMS as PROBLEMS

T = TypeVar("T")


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Items(Out, Generic[T]):
    items: list[T]


class Page(Out, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; "
                                                "null on the last page")


class StatuteOut(Out):
    rule: str = Field(description="majority, qualified or consent")
    threshold: str = Field(description="fraction for a qualified majority, e.g. 2/3")
    quorum_basis: str = Field(description="members or families")
    quorum: str
    voting_days: int
    secret_ballot: bool
    admission: str = Field(description="how federation members are admitted: open or "
                                        "facilitators")
    weighting: str = Field(default="bodies",
                           description="how a federation counts member bodies' votes: "
                                       "bodies (one each) or families")


class BodyOut(Out):
    handle: str
    name: str
    kind: str
    level: str
    public: bool
    parent_id: int | None
    statute: StatuteOut
    members: int


class FederatedOut(Out):
    matter: str | None = Field(description="URI of the signed Proposal object every node "
                                           "shares; none while the escalation is pending")
    electorate: str = Field(description="people (members vote) or bodies (by mandate)")
    answers_to: str | None = Field(description="federation this body's decision goes to "
                                               "as a mandate")
    escalation: str | None = Field(description="for a proposal of ours: pending (the "
                                               "federation could not be reached yet; tried "
                                               "again every few seconds), sent, refused, taken")
    escalated_to: str | None
    escalation_note: str | None = Field(description="why it was refused back down, or why "
                                                    "it is still pending")
    final_outcome: str | None
    final_decision: str | None = Field(description="URI of the deciding federation's record")
    federation_vote_closes_at: datetime | None = Field(
        default=None, description="at a member body: when the deciding federation's vote "
        "closes, once it announced it open (spokespersons vote until then)")


class ProposalOut(Out):
    id: int
    body_id: int
    author_id: int | None = Field(description="null for a matter sent by a federation")
    state: str = Field(description="draft, deliberation, vote, decided, carried_out, "
                                   "evaluated, or withdrawn (a draft its author took back)")
    title: str
    current_version: int
    affects: list[str]
    vote_opened_at: datetime | None
    closes_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None = Field(description="last change of state, text, or of "
                                                    "what the federation decided")
    federated: FederatedOut | None
    actions: list[str] = Field(
        default_factory=list,
        description="what the member asking may do with it now (empty for anonymous "
                    "readers): edit, withdraw, open_deliberation, comment, amend, "
                    "decide_amendment, open_amendment_vote, amendment_ballot, "
                    "close_amendment_vote, open_vote, vote, close, execute, evaluate. The "
                    "node refuses any other action, so a client shows only these")


class VersionBrief(Out):
    number: int
    title: str
    origin: str
    author_id: int | None
    created_at: datetime | None


class CommentOut(Out):
    id: int
    author_id: int
    parent_id: int | None
    text: str
    created_at: datetime | None


class Counts(Out):
    votes_for: int = Field(alias="for")
    against: int
    abstain: int
    block: int
    participants: int
    families: int | None = None


class ElectorateOut(Out):
    members: int
    families: int


class BallotRecord(Out):
    member: int
    choice: str
    reason: str


class AmendmentVoteOut(Out):
    outcome: str
    reason: str
    counts: Counts
    electorate: ElectorateOut
    ballots: list[BallotRecord] | None = Field(description="null under a secret ballot")


class AmendmentOut(Out):
    id: int
    author_id: int
    against_version: int
    title: str
    text: str
    reason: str
    state: str = Field(description="open, voting, accepted, rejected or stale")
    resulting_version: int | None
    closes_at: datetime | None
    vote: AmendmentVoteOut | None
    actions: list[str] = Field(
        default_factory=list,
        description="what the member asking may do with this amendment now: accept, "
                    "reject (its proposal's author or a coordinator), open_vote, close "
                    "(a coordinator), vote (an integrante); empty for anonymous readers")


class FederationAmendmentOut(Out):
    uri: str = Field(description="what a mandate's `amendments` names")
    title: str
    text: str = Field(description="the proposed text, plain")
    against_version: int
    state: str = Field(description="open, voting, accepted, rejected or stale, as the "
                                   "federation last announced")
    updated_at: datetime


class ProposalFull(ProposalOut):
    text: str
    versions: list[VersionBrief]
    comments: list[CommentOut]
    amendments: list[AmendmentOut]
    federation_amendments: list[FederationAmendmentOut] = Field(
        default_factory=list,
        description="on a member body's copy of a federated matter: the amendments the "
                    "federation deciding it announced")
    decision_id: int | None


class VersionOut(Out):
    number: int
    title: str
    text: str
    origin: str
    author_id: int | None


class DiffOut(Out):
    from_version: int = Field(alias="from")
    to: int
    diff: str = Field(description="unified diff of title and text")


class CommentCreated(Out):
    id: int
    text: str
    parent_id: int | None


class AmendmentCreated(Out):
    id: int
    state: str
    against_version: int


class BallotOut(Out):
    proposal_id: int
    version: int
    choice: str


class AmendmentBallotOut(Out):
    amendment_id: int
    choice: str


class AssemblyRecord(Out):
    meeting: int | None
    held_at: datetime
    present: int = Field(description="people present")
    families_present: int


class DecisionRecord(Out):
    version: int
    statute: StatuteOut
    outcome: str
    reason: str
    quorum_met: bool
    counts: Counts
    electorate: ElectorateOut
    eligible: list[int] | None = Field(description="member ids who could vote (online)")
    ballots: list[BallotRecord] | None = Field(
        description="who voted what; null for secret ballots and assemblies")
    assembly: AssemblyRecord | None = Field(
        default=None, description="for a decision taken in an assembly: when it met and "
                                  "who was there; participation is counted against the "
                                  "people present")


class EvaluationOut(Out):
    member_id: int
    name: str = Field(description="the member's display name")
    score: int = Field(description="1 to 5")
    comment: str
    created_at: datetime | None


class DecisionOut(Out):
    id: int
    proposal_id: int
    body_id: int
    version: int
    outcome: str = Field(description="adopted, rejected or no_quorum")
    method: str = Field(description="online or assembly")
    meeting_id: int | None
    execution: str = Field(description="decided, in_progress or carried_out")
    execution_notes: str
    decided_at: datetime | None
    activity_id: str | None = Field(description="the published record, for public bodies")
    record: DecisionRecord
    evaluations: list[EvaluationOut] = Field(
        default_factory=list, description="members' evaluations once carried out, oldest "
                                          "first")


class EvaluationCreated(Out):
    id: int
    score: int


class MemberCreated(Out):
    id: int
    username: str


class TokenCreated(Out):
    id: int
    token: str = Field(description="shown once; send as Authorization: Bearer")
    label: str


class TokenOut(Out):
    id: int
    label: str
    created_at: datetime | None
    revoked_at: datetime | None


class MeOut(Out):
    id: int
    username: str
    display_name: str
    language: str
    roles: dict[str, list[str]] = Field(description="roles by body handle")


class MemberOut(Out):
    id: int
    username: str
    display_name: str
    roles: list[str]


class InvitationCreated(Out):
    token: str
    accept_url: str


class MeetingCreated(Out):
    id: int
    decisions: list[DecisionOut]


class ParticipationRow(Out):
    decision: int
    proposal: int
    method: str
    decided_at: datetime
    participants: int
    electorate: int


class DecidingLevelOut(Out):
    level: str | None
    route: str = Field(description="local, up, down or elsewhere")
    target: str | None
    reason: str


class StateCounts(Out):
    queued: int
    delivered: int | None = None
    done: int | None = None
    failed: int


class HostStatus(Out):
    host: str
    queued: int
    failed: int
    delivered: int
    consecutive_failures: int
    circuit: str = "closed"  # closed | open | half_open (one probe in flight)
    circuit_trips: int = 0  # times it opened in a row; each doubles the cooldown
    circuit_open_until: str | None
    last_error: str
    last_error_at: str | None
    blocked: bool


class FederationStatus(Out):
    delivery: StateCounts
    inbox: StateCounts
    hosts: list[HostStatus]
    blocked_hosts: list[str]


class KeysExpired(Out):
    host: str
    expired_actors: int


class HostBlock(Out):
    host: str
    blocked: bool


class Requeued(Out):
    requeued: int


def ok(model: Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route: its success schema and the problems it may answer."""
    return {status: {"model": model}, **PROBLEMS}
