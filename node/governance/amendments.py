"""Amendments: a proposed new text for a proposal, against one version.

An amendment is adopted in one of two ways, and either way it becomes a new
version of the proposal: the author (or a facilitator) accepts it, or a
facilitator puts it to the body, which votes on it under the body's statute
like on any matter (under the statute as it is when that vote opens, frozen on the
amendment's row). While an amendment vote is open the proposal cannot go to
its final vote, so the final vote is always on a settled text.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from node.errors import invalid, not_found
from node.events import kinds
from node.governance import electorates
from node.governance.bodies import electorate, statute_of
from node.governance.proposal_actions import (
    AMENDMENT,
    amendment_close_refusal,
    require,
    require_on_amendment,
)
from node.governance.proposals import ballot_choice, body_of, check_text, get
from node.governance.statute import freeze, statute_of_vote
from node.governance.tally import Ballot, Choice, Outcome, count_ballots, tally
from node.models import Amendment, AmendmentVote, Member, Proposal, ProposalVersion
from node.models.base import aware
from node.tx import Tx


def _person(tx: Tx) -> Member | None:
    return tx.who if isinstance(tx.who, Member) else None


def _tell_members(tx: Tx, proposal: Proposal, a: Amendment) -> None:
    """A matter decided by member bodies: they hear of each amendment and its fate (their
    mandates may depend on it)."""
    if proposal.electorate == "bodies":
        tx.session.flush()
        electorates.member_bodies().on_amendment(tx, body_of(tx.session, proposal), proposal,
                                                 a)


def _get(session: Session, proposal: Proposal, amendment_id: int) -> Amendment:
    a = session.get(Amendment, amendment_id)
    if a is None or a.proposal_id != proposal.id:
        raise not_found("amendment")
    return a


def amend(tx: Tx, proposal: Proposal, title: str, text: str, reason: str = "") -> Amendment:
    session, member = tx.session, tx.member
    require(session, member, proposal, "amend", tx.now())
    check_text(title, text)
    a = Amendment(proposal_id=proposal.id or 0, author_id=member.id or 0,
                  against_version=proposal.current_version, title=title, text=text,
                  reason=reason)
    session.add(a)
    session.flush()
    tx.audit("amendment.proposed", f"proposal:{proposal.id}",
             {"amendment": a.id, "against_version": a.against_version})
    _tell_members(tx, proposal, a)
    return a


def _adopt(tx: Tx, proposal: Proposal, a: Amendment, step: str) -> int:
    """Make the amendment the proposal's new version (`step`: accepted by the author or
    a coordinator, or adopted by its vote)."""
    session = tx.session
    number = proposal.current_version + 1
    AMENDMENT.move(session, a, step, resulting_version=number)
    session.add(ProposalVersion(proposal_id=proposal.id or 0, number=number, title=a.title,
                                text=a.text, author_id=a.author_id, origin=f"amendment:{a.id}"))
    proposal.current_version = number
    proposal.updated_at = tx.now()
    session.add(proposal)
    if proposal.electorate == "bodies":
        session.flush()
        electorates.member_bodies().on_new_version(tx, body_of(session, proposal), proposal, a)
    return number


def decide(tx: Tx, proposal: Proposal, amendment_id: int, accept: bool) -> int | None:
    """The author (or a facilitator) accepts or rejects; acceptance makes a new version."""
    session = tx.session
    a = _get(session, proposal, amendment_id)
    require_on_amendment(session, tx.member, proposal, a, "accept" if accept else "reject",
                         tx.now())
    if not accept:
        AMENDMENT.move(session, a, "reject")
        tx.audit("amendment.rejected", f"proposal:{proposal.id}",
                 {"amendment": a.id, "by": "author"})
        _tell_members(tx, proposal, a)
        return None
    number = _adopt(tx, proposal, a, "accept")
    tx.audit("amendment.accepted", f"proposal:{proposal.id}",
             {"amendment": a.id, "version": number, "by": "author"})
    _tell_members(tx, proposal, a)
    return number


def open_vote(tx: Tx, proposal: Proposal, amendment_id: int,
              closes_at: datetime | None = None) -> Amendment:
    """A facilitator puts an open amendment to the whole body."""
    session = tx.session
    body = body_of(session, proposal)
    a = _get(session, proposal, amendment_id)
    require_on_amendment(session, tx.member, proposal, a, "open_vote", tx.now())
    now = tx.now()
    closes = aware(closes_at) if closes_at else now + timedelta(days=statute_of(body).voting_days)
    if closes <= now:
        raise invalid("bad-deadline", "the vote must close in the future")
    AMENDMENT.move(session, a, "open_vote", closes_at=closes)
    frozen = freeze(a, body)
    session.add(a)
    tx.audit("amendment.vote_opened", f"proposal:{proposal.id}",
             {"amendment": a.id, "closes_at": closes.isoformat(), "statute": frozen.to_dict()})
    kinds.amendment_vote_opened(tx, body, proposal, a)
    _tell_members(tx, proposal, a)
    return a


def cast(tx: Tx, proposal: Proposal, amendment_id: int, choice: str,
         reason: str = "") -> AmendmentVote:
    session, member = tx.session, tx.member
    body = body_of(session, proposal)
    a = _get(session, proposal, amendment_id)
    require_on_amendment(session, member, proposal, a, "vote", tx.now())
    statute = statute_of_vote(a, body)
    c = ballot_choice(statute, choice, reason)
    vote = session.exec(select(AmendmentVote).where(AmendmentVote.amendment_id == a.id,
                                                    AmendmentVote.member_id == member.id)).first()
    if vote is None:
        vote = AmendmentVote(amendment_id=a.id or 0, member_id=member.id or 0, choice=c.value)
    vote.choice, vote.reason, vote.cast_at = c.value, reason, tx.now()
    session.add(vote)
    session.flush()
    tx.audit("amendment.vote_cast", f"proposal:{proposal.id}",
             {"amendment": a.id, "choice": "secret" if statute.secret_ballot else c.value})
    return vote


def close_by(tx: Tx, a: Amendment) -> str:
    """A coordinator closes an amendment vote whose deadline has passed (the clock
    does it too)."""
    require_on_amendment(tx.session, _person(tx), get(tx.session, a.proposal_id), a, "close",
                         tx.now())
    return close(tx, a)


def close(tx: Tx, a: Amendment) -> str:
    """Tally an amendment vote whose deadline has passed; adopted means a new version."""
    if (refused := amendment_close_refusal(a, tx.now())) is not None:
        raise refused
    session = tx.session
    proposal = get(session, a.proposal_id)
    # Claimed in the database first: the clock and a coordinator may both close it.
    AMENDMENT.move(session, a, "count")
    body = body_of(session, proposal)
    # Counted, and kept secret or not, under the rules the vote opened with.
    statute = statute_of_vote(a, body)
    voters, eligible = electorate(session, body)
    families = {m.id: m.family for m in eligible}
    votes = list(session.exec(select(AmendmentVote).where(AmendmentVote.amendment_id == a.id)
                              .order_by(col(AmendmentVote.id))).all())
    counted = [v for v in votes if v.member_id in families]
    result = tally(statute, count_ballots(
        Ballot(v.member_id, Choice(v.choice), families.get(v.member_id) or None)
        for v in counted), voters)
    c = result.counts
    a.record = json.dumps({
        "outcome": result.outcome.value, "reason": result.reason,
        "counts": {"for": c.yes, "against": c.no, "abstain": c.abstain, "block": c.block,
                   "participants": c.participants},
        "electorate": {"members": voters.members, "families": voters.families},
        "ballots": None if statute.secret_ballot else
        [{"member": v.member_id, "choice": v.choice, "reason": v.reason} for v in counted],
    }, ensure_ascii=False)
    if result.outcome != Outcome.adopted:
        AMENDMENT.move(session, a, "refuse")
    elif proposal.state != "deliberation" or a.against_version != proposal.current_version:
        # Adopted, but the text it changes is gone (an assembly decided, or another
        # amendment came first): recorded, not applied.
        AMENDMENT.move(session, a, "outdate")
    else:
        _adopt(tx, proposal, a, "adopt")
    if statute.secret_ballot:
        _forget_choices(session, votes)
    session.add(a)
    tx.acting_as(None).audit(f"amendment.{a.state}", f"proposal:{proposal.id}",
                             {"amendment": a.id, "outcome": result.outcome.value, "by": "vote",
                              "version": a.resulting_version})
    _tell_members(tx, proposal, a)
    return a.state


def _forget_choices(session: Session, votes: list[AmendmentVote]) -> None:
    """Under a secret ballot, once counted, nobody's choice stays on record."""
    for v in votes:
        v.choice, v.reason = "secret", ""
        session.add(v)


def close_due(tx: Tx) -> list[int]:
    due = tx.session.exec(select(Amendment).where(
        Amendment.state == "voting", col(Amendment.closes_at) <= tx.now())).all()
    closed = []
    for a in due:
        close(tx, a)
        closed.append(a.id or 0)
    return closed
