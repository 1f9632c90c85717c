"""A proposal's life as state graphs, and the one answer to "what may this person do
with it now".

Three graphs: the proposal (draft → deliberation → vote → decided → carried out →
evaluated, or a draft withdrawn by its author), each amendment (open → accepted or
rejected, or open → voting → counting → accepted, rejected or stale) and the
execution of a decision (decided → in progress → carried out). `Graph.move` is the
only place their states change.

`why_not(session, member, proposal, action, now)` gives the refusal a mutator raises, or
None when the action may be taken; `available_actions` is the list of actions with
no refusal. The mutators call `require`, which is `why_not` raising, so what the
pages and the API offer and what the domain accepts cannot drift apart. The order of
the checks inside each rule is the order of the refusals people see (who first, then
when), kept as the mutators had them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cached_property

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from node.errors import Problem, conflict, forbidden, not_found
from node.governance.members import roles_in
from node.lifecycle import Graph
from node.models import Amendment, Decision, Evaluation, LocalActor, Member, Proposal
from node.models.base import aware


class ProposalState(StrEnum):
    draft = "draft"
    deliberation = "deliberation"
    vote = "vote"
    decided = "decided"
    carried_out = "carried_out"
    evaluated = "evaluated"
    withdrawn = "withdrawn"


class AmendmentState(StrEnum):
    open = "open"
    voting = "voting"
    # Claimed by whoever closes the vote (the clock or a coordinator), before the count.
    counting = "counting"
    accepted = "accepted"
    rejected = "rejected"
    # Adopted by its vote, but the text it changed had already changed.
    stale = "stale"


class ExecutionState(StrEnum):
    decided = "decided"
    in_progress = "in_progress"
    carried_out = "carried_out"


P, A, E = ProposalState, AmendmentState, ExecutionState

PROPOSAL = (
    Graph("proposal", Proposal, ProposalState)
    # A self-loop, so that an edit and the opening of deliberation cannot cross.
    .step("edit", [P.draft], P.draft)
    .step("withdraw", [P.draft], P.withdrawn)
    .step("open_deliberation", [P.draft], P.deliberation)
    .step("open_vote", [P.deliberation], P.vote)
    .step("close", [P.vote], P.decided)
    # An assembly may decide a matter still in deliberation, or one being voted on.
    .step("decide_in_assembly", [P.deliberation, P.vote], P.decided)
    .step("carry_out", [P.decided], P.carried_out)
    .step("evaluate", [P.carried_out], P.evaluated)
)

AMENDMENT = (
    Graph("amendment", Amendment, AmendmentState)
    .step("accept", [A.open], A.accepted)
    .step("reject", [A.open], A.rejected)
    .step("open_vote", [A.open], A.voting)
    .step("count", [A.voting], A.counting)
    .step("adopt", [A.counting], A.accepted)
    .step("refuse", [A.counting], A.rejected)
    .step("outdate", [A.counting], A.stale)
)

EXECUTION = (
    Graph("execution", Decision, ExecutionState, column="execution", touch=False)
    .step("progress", [E.decided, E.in_progress], E.in_progress)
    .step("carry_out", [E.decided, E.in_progress], E.carried_out)
)


def decided_above(p: Proposal) -> bool:
    """The federation this row answers to has decided the matter (`final_outcome`, set on
    every row of it by outcomes.receive): the body's position on it no longer changes, so
    nothing that would change it (a vote, its opening, an assembly's decision, an
    amendment, a mandate) is offered or accepted."""
    return bool(p.answers_to and p.final_outcome)


def position_open() -> ColumnElement[bool]:
    """`decided_above` negated, as a query condition (lists of what waits for people)."""
    return or_(col(Proposal.answers_to) == "", col(Proposal.final_outcome) == "")


def awaiting_federation(p: Proposal) -> bool:
    """The body decided its position on a federated matter (its decision is the mandate it
    gives) and the federation has not decided yet: nothing is carried out meanwhile."""
    return bool(p.answers_to) and not p.final_outcome and p.state == ProposalState.decided


def stage(p: Proposal) -> str:
    """Where a proposal stands, for lists: its state, except a federated row waiting for
    the federation (`awaiting_federation`) and one the federation decided while the body
    was still deliberating or voting (`decided`: there is nothing left to do on it)."""
    if awaiting_federation(p):
        return "awaiting_federation"
    if decided_above(p) and p.state in (ProposalState.deliberation, ProposalState.vote):
        return ProposalState.decided.value
    return p.state


# Actions that change no state, and the proposal states they are open in.
STAYS: dict[str, frozenset[str]] = {
    "comment": frozenset({P.deliberation, P.vote}),
    "amend": frozenset({P.deliberation}),
    "vote": frozenset({P.vote}),
}

# Every action on a proposal, in the order pages show them.
PROPOSAL_ACTIONS = ("edit", "withdraw", "open_deliberation", "comment", "amend",
                    "decide_amendment", "open_amendment_vote", "amendment_ballot",
                    "close_amendment_vote", "open_vote", "vote", "close", "execute",
                    "evaluate")
AMENDMENT_ACTIONS = ("accept", "reject", "open_vote", "vote", "close")
# The proposal-level name of an action on some amendment of it.
ON_SOME_AMENDMENT = {"decide_amendment": ("accept", "reject"),
                     "open_amendment_vote": ("open_vote",),
                     "amendment_ballot": ("vote",),
                     "close_amendment_vote": ("close",)}


@dataclass
class Seen:
    """What the rules look at, each read once and only if a rule asks."""

    session: Session
    member: Member | None
    proposal: Proposal
    # "Now" for deadlines: the node's clock (the unit of work's where a mutator asks,
    # the context's where a page or view shows what may be done).
    now: datetime

    @cached_property
    def body(self) -> LocalActor:
        body = self.session.get(LocalActor, self.proposal.body_id)
        assert body is not None
        return body

    @cached_property
    def roles(self) -> set[str]:
        return roles_in(self.session, self.member, self.body)

    @cached_property
    def decision(self) -> Decision | None:
        return self.session.exec(select(Decision).where(
            Decision.proposal_id == self.proposal.id)).first()

    @cached_property
    def amendments(self) -> list[Amendment]:
        return list(self.session.exec(select(Amendment).where(
            Amendment.proposal_id == self.proposal.id).order_by(col(Amendment.id))).all())

    @property
    def author(self) -> bool:
        return self.member is not None and self.proposal.author_id == self.member.id

    def hidden(self) -> Problem | None:
        """A private body's proposals look the same as missing ones from outside: no
        rule may answer first with a 401, 403 or 409 (and the body's handle)."""
        if self.body.public or "member" in self.roles:
            return None
        return not_found("proposal")

    def need_member(self) -> Problem | None:
        if self.member is None:
            return Problem(401, "unauthenticated", "log in or send a bearer token")
        if "member" not in self.roles:
            return forbidden(f"only members of {self.body.handle} may do this")
        return None

    def need_facilitator(self) -> Problem | None:
        missing = self.need_member()
        if missing is None and "facilitator" not in self.roles:
            return forbidden(f"only facilitators of {self.body.handle} may do this")
        return missing

    def need_position_open(self) -> Problem | None:
        if decided_above(self.proposal):
            return conflict("matter-decided", "the federation has already decided this "
                                              "matter; the body's position no longer changes")
        return None

    def need_state(self, action: str, detail: str, code: str = "bad-state") -> Problem | None:
        state = self.proposal.state
        if PROPOSAL.may(action, state) or state in STAYS.get(action, ()):
            return None
        return Problem(409, code, detail, state=state, action=action)


def _due(closes_at: datetime | None, now: datetime) -> bool:
    return closes_at is not None and aware(closes_at) <= now


def _edit(k: Seen) -> Problem | None:
    return (k.need_state("edit", "only a draft can be edited; propose an amendment")
            or k.need_member()
            or (None if k.author else forbidden("only the author edits a draft")))


def _withdraw(k: Seen) -> Problem | None:
    return (k.need_member()
            or k.need_state("withdraw", "only a draft can be withdrawn")
            or (None if k.author else forbidden("only the author withdraws a draft")))


def _open_deliberation(k: Seen) -> Problem | None:
    return (k.need_member()
            or (None if k.author or "facilitator" in k.roles else
                forbidden("the author or a facilitator opens deliberation"))
            or k.need_state("open_deliberation", "only a draft goes to deliberation"))


def _comment(k: Seen) -> Problem | None:
    return (k.need_member()
            or k.need_state("comment", "comments are open during deliberation and vote"))


def _amend(k: Seen) -> Problem | None:
    if (refused := k.need_member() or k.need_position_open() or k.need_state(
            "amend", "amendments are proposed during deliberation")):
        return refused
    if k.proposal.answers_to:
        return conflict("federated-text", "this text is the federation's: amendments are "
                                          "proposed there, and a mandate may name them")
    return None


def _open_vote(k: Seen) -> Problem | None:
    if (refused := k.need_facilitator() or k.need_position_open() or k.need_state(
            "open_vote", "only a proposal in deliberation goes to a vote")):
        return refused
    pending = [a.id for a in k.amendments if a.state in (A.voting, A.counting)]
    if pending:
        return conflict("amendment-vote-open",
                        f"amendment {pending[0]} is being voted on; the final vote waits for it")
    return None


def _vote(k: Seen) -> Problem | None:
    if (refused := k.need_member() or k.need_position_open()):
        return refused
    p = k.proposal
    if p.state != P.vote or p.closes_at is None or _due(p.closes_at, k.now):
        return conflict("vote-closed", "this proposal is not open for voting")
    if p.electorate == "bodies":
        return conflict("votes-by-mandate", "member bodies vote on this matter, through the "
                                            "spokespersons their mandates name")
    return None


def _close(k: Seen) -> Problem | None:
    if (refused := k.need_facilitator()):
        return refused
    return close_refusal(k.proposal, k.now)


def close_refusal(p: Proposal, now: datetime) -> Problem | None:
    """Why a vote cannot be counted now, whoever closes it (a coordinator or the clock)."""
    if p.state != P.vote or p.closes_at is None:
        return conflict("bad-state", "this proposal is not being voted on")
    if not _due(p.closes_at, now):
        return conflict("not-due", "the vote closes at its deadline, not before")
    return None


def _execute(k: Seen) -> Problem | None:
    if (refused := k.need_facilitator()):
        return refused
    d, p = k.decision, k.proposal
    if d is None:
        return conflict("bad-state", "this proposal has no decision yet")
    if p.answers_to:
        # The body's decision was its position; what is carried out is the federation's.
        if not p.final_outcome:
            return conflict("federation-pending", "the federation has not decided this "
                                                  "matter yet; its decision is carried out")
        if p.final_outcome != "adopted":
            return conflict("not-adopted", "the federation did not adopt this matter")
    elif d.outcome != "adopted":
        return conflict("not-adopted", "only adopted decisions are carried out")
    if not EXECUTION.may("carry_out", d.execution):
        return conflict("bad-state", "this decision is already carried out")
    return None


def _evaluate(k: Seen) -> Problem | None:
    if (refused := k.need_member()):
        return refused
    d = k.decision
    if d is None or d.execution != E.carried_out:
        return conflict("not-carried-out", "evaluate a decision once it is carried out")
    assert k.member is not None
    if k.session.exec(select(Evaluation.id).where(
            Evaluation.decision_id == d.id, Evaluation.member_id == k.member.id)).first():
        return conflict("already-evaluated", "you have already evaluated this decision")
    return None


def _on_amendments(names: tuple[str, ...]) -> Callable[[Seen], Problem | None]:
    def rule(k: Seen) -> Problem | None:
        first: Problem | None = None
        for a in k.amendments:
            for name in names:
                refused = amendment_why_not(k, a, name)
                if refused is None:
                    return None
                first = first or refused
        return first or conflict("bad-state", "no amendment is waiting for this")

    return rule


RULES: dict[str, Callable[[Seen], Problem | None]] = {
    "edit": _edit, "withdraw": _withdraw, "open_deliberation": _open_deliberation,
    "comment": _comment, "amend": _amend, "open_vote": _open_vote, "vote": _vote,
    "close": _close, "execute": _execute, "evaluate": _evaluate,
    **{name: _on_amendments(acts) for name, acts in ON_SOME_AMENDMENT.items()},
}


def why_not(session: Session, member: Member | None, proposal: Proposal, action: str,
            now: datetime, seen: Seen | None = None) -> Problem | None:
    """The refusal `action` on `proposal` gets from `member` at `now`, or None."""
    k = seen or Seen(session, member, proposal, now)
    return k.hidden() or RULES[action](k)


def require(session: Session, member: Member | None, proposal: Proposal, action: str,
            now: datetime) -> None:
    if (refused := why_not(session, member, proposal, action, now)) is not None:
        raise refused


def available_actions(session: Session, member: Member | None, proposal: Proposal,
                      now: datetime) -> list[str]:
    """What `member` may do with `proposal` at `now` (anonymous: nothing)."""
    if member is None:
        return []
    seen = Seen(session, member, proposal, now)
    return [a for a in PROPOSAL_ACTIONS if RULES[a](seen) is None]


# Amendments ------------------------------------------------------------------------


def amendment_why_not(k: Seen, a: Amendment, action: str) -> Problem | None:
    p = k.proposal
    if action in ("accept", "reject", "open_vote"):
        refused = k.need_facilitator() if action == "open_vote" else (
            k.need_member() or (None if k.author or "facilitator" in k.roles else forbidden(
                "the author or a facilitator decides on amendments")))
        if refused := refused or k.need_position_open():
            return refused
        if a.state != A.open or p.state != P.deliberation:
            return conflict("bad-state", "this amendment is no longer open")
        if action != "reject" and a.against_version != p.current_version:
            return Problem(409, "stale-amendment",
                           f"the amendment was written against version {a.against_version}; "
                           f"the proposal is now at version {p.current_version}")
        return None
    if action == "vote":
        refused = k.need_member() or k.need_position_open()
        if refused is None and (a.state != A.voting or a.closes_at is None
                                or _due(a.closes_at, k.now)):
            refused = conflict("vote-closed", "this amendment is not open for voting")
        return refused
    if action == "close":
        return k.need_facilitator() or amendment_close_refusal(a, k.now)
    raise KeyError(action)


def amendment_close_refusal(a: Amendment, now: datetime) -> Problem | None:
    if a.state != A.voting or a.closes_at is None:
        return conflict("bad-state", "this amendment is not being voted on")
    if not _due(a.closes_at, now):
        return conflict("not-due", "the vote closes at its deadline, not before")
    return None


def require_on_amendment(session: Session, member: Member | None, proposal: Proposal,
                         a: Amendment, action: str, now: datetime) -> None:
    k = Seen(session, member, proposal, now)
    refused = k.hidden() or amendment_why_not(k, a, action)
    if refused is not None:
        raise refused


def amendment_actions(session: Session, member: Member | None, proposal: Proposal,
                      a: Amendment, now: datetime, seen: Seen | None = None) -> list[str]:
    if member is None:
        return []
    k = seen or Seen(session, member, proposal, now)
    return [x for x in AMENDMENT_ACTIONS if amendment_why_not(k, a, x) is None]
