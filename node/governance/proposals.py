"""A proposal's life: draft → deliberation → vote → decided → carried out → evaluated
(or a draft withdrawn by its author).

Every change asks node.governance.proposal_actions whether this member may take the
action now (the same answer the pages and the API show), moves the state only
through its graph, and appends to the audit log.
"""

from __future__ import annotations

import difflib
import json
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from node.errors import Problem, invalid, not_found
from node.events import kinds
from node.governance import electorates, polls
from node.governance.authz import require_member
from node.governance.bodies import statute_of
from node.governance.proposal_actions import PROPOSAL, require
from node.governance.statute import Rule, Statute, freeze, statute_of_vote
from node.governance.tally import Choice
from node.models import (
    Comment,
    LocalActor,
    Proposal,
    ProposalVersion,
    Vote,
)
from node.models.base import aware
from node.tx import Tx


def get(session: Session, proposal_id: int) -> Proposal:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise not_found("proposal")
    return proposal


def body_of(session: Session, proposal: Proposal) -> LocalActor:
    body = session.get(LocalActor, proposal.body_id)
    assert body is not None
    return body


def version(session: Session, proposal: Proposal, number: int | None = None) -> ProposalVersion:
    n = number or proposal.current_version
    v = session.exec(select(ProposalVersion).where(
        ProposalVersion.proposal_id == proposal.id, ProposalVersion.number == n)).first()
    if v is None:
        raise not_found("version")
    return v


def check_text(title: str, text: str) -> None:
    if not title.strip() or len(title) > 300:
        raise invalid("bad-title", "a title of 1 to 300 characters is needed")
    if not text.strip():
        raise invalid("bad-text", "the proposal needs a text")


def create(tx: Tx, body: LocalActor, title: str, text: str,
           affects: list[str] | None = None, own_uri: str = "") -> Proposal:
    session, member = tx.session, tx.member
    require_member(session, member, body)
    check_text(title, text)
    targets = sorted(set(affects or []) | ({own_uri} if own_uri else set()))
    proposal = Proposal(body_id=body.id or 0, author_id=member.id or 0,
                        affects=json.dumps(targets))
    session.add(proposal)
    session.flush()
    session.add(ProposalVersion(proposal_id=proposal.id or 0, number=1, title=title, text=text,
                                author_id=member.id or 0))
    tx.audit("proposal.created", f"proposal:{proposal.id}",
             {"body": body.handle, "title": title, "affects": targets})
    return proposal


def edit_draft(tx: Tx, proposal: Proposal, title: str, text: str) -> None:
    session = tx.session
    require(session, tx.member, proposal, "edit", tx.now())
    check_text(title, text)
    PROPOSAL.move(session, proposal, "edit")
    v = version(session, proposal, 1)
    v.title, v.text = title, text
    session.add(v)
    tx.audit("proposal.edited", f"proposal:{proposal.id}", {"title": title})


def withdraw(tx: Tx, proposal: Proposal) -> None:
    """The author takes a draft back before anyone deliberates on it; it stays on record."""
    require(tx.session, tx.member, proposal, "withdraw", tx.now())
    PROPOSAL.move(tx.session, proposal, "withdraw")
    tx.audit("proposal.withdrawn", f"proposal:{proposal.id}")


def open_deliberation(tx: Tx, proposal: Proposal) -> None:
    require(tx.session, tx.member, proposal, "open_deliberation", tx.now())
    PROPOSAL.move(tx.session, proposal, "open_deliberation")
    tx.audit("proposal.deliberation", f"proposal:{proposal.id}")


def comment(tx: Tx, proposal: Proposal, text: str, parent_id: int | None = None) -> Comment:
    session, member = tx.session, tx.member
    require(session, member, proposal, "comment", tx.now())
    if not text.strip():
        raise invalid("bad-text", "an empty comment says nothing")
    if parent_id is not None:
        parent = session.get(Comment, parent_id)
        if parent is None or parent.proposal_id != proposal.id:
            raise not_found("comment to answer")
    c = Comment(proposal_id=proposal.id or 0, author_id=member.id or 0, text=text,
                parent_id=parent_id)
    session.add(c)
    session.flush()
    return c


def diff(session: Session, proposal: Proposal, a: int, b: int) -> str:
    va, vb = version(session, proposal, a), version(session, proposal, b)
    lines = difflib.unified_diff(
        [va.title, "", *va.text.splitlines()], [vb.title, "", *vb.text.splitlines()],
        fromfile=f"v{a}", tofile=f"v{b}", lineterm="")
    return "\n".join(lines)


def open_vote(tx: Tx, proposal: Proposal, closes_at: datetime | None = None) -> None:
    session = tx.session
    body = body_of(session, proposal)
    require(session, tx.member, proposal, "open_vote", tx.now())
    now = tx.now()
    closes = aware(closes_at) if closes_at else \
        now + timedelta(days=statute_of(body).voting_days)
    if closes <= now:
        raise invalid("bad-deadline", "the vote must close in the future")
    PROPOSAL.move(session, proposal, "open_vote", vote_opened_at=now, closes_at=closes)
    frozen = freeze(proposal, body)
    session.add(proposal)
    tx.audit("vote.opened", f"proposal:{proposal.id}",
             {"version": proposal.current_version, "closes_at": closes.isoformat(),
              "statute": frozen.to_dict()})
    kinds.vote_opened(tx, body, proposal)
    polls.announce(tx, body, proposal, version(session, proposal).title)
    if proposal.electorate == "bodies":
        session.flush()
        electorates.member_bodies().on_vote_opened(tx, body, proposal)


def ballot_choice(statute: Statute, choice: str, reason: str) -> Choice:
    """A member's choice on a ballot (a proposal's or an amendment's) under the statute."""
    try:
        c = Choice(choice)
    except ValueError as exc:
        raise invalid("bad-choice", "choose for, against, abstain (or block, under consent)") \
            from exc
    if c == Choice.block:
        if statute.rule != Rule.consent:
            raise invalid("bad-choice", "blocking exists only under a consent statute")
        if not reason.strip():
            raise invalid("block-needs-reason", "a block must give its reason")
    return c


def cast(tx: Tx, proposal: Proposal, version_number: int, choice: str,
         reason: str = "") -> Vote:
    session, member = tx.session, tx.member
    body = body_of(session, proposal)
    require(session, member, proposal, "vote", tx.now())
    if version_number != proposal.current_version:
        raise Problem(409, "wrong-version",
                       f"the vote is on version {proposal.current_version}, not {version_number}")
    statute = statute_of_vote(proposal, body)
    c = ballot_choice(statute, choice, reason)
    vote = session.exec(select(Vote).where(Vote.proposal_id == proposal.id,
                                           Vote.member_id == member.id)).first()
    if vote is None:
        vote = Vote(proposal_id=proposal.id or 0, member_id=member.id or 0,
                    version=version_number, choice=c.value)
    vote.choice, vote.reason, vote.version, vote.cast_at = c.value, reason, version_number, \
        tx.now()
    session.add(vote)
    session.flush()
    tx.audit("vote.cast", f"proposal:{proposal.id}",
             {"version": version_number,
              "choice": "secret" if statute.secret_ballot else c.value})
    return vote


def votes_of(session: Session, proposal: Proposal) -> list[Vote]:
    return list(session.exec(select(Vote).where(Vote.proposal_id == proposal.id)
                             .order_by(col(Vote.id))).all())
