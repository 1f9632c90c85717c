"""A proposal's life: draft → deliberation → vote → decided → carried out → evaluated.

Every change checks who acts (authz), moves the state machine only along its
edges, and appends to the audit log.
"""

from __future__ import annotations

import difflib
import json
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from node.errors import Problem, conflict, invalid, not_found
from node.federation.urls import Urls
from node.governance import audit, polls
from node.governance.authz import require_facilitator, require_member
from node.governance.bodies import statute_of
from node.governance.statute import Rule, Statute, freeze, statute_of_vote
from node.governance.tally import Choice
from node.models import (
    Amendment,
    Comment,
    LocalActor,
    Member,
    Proposal,
    ProposalVersion,
    Vote,
)
from node.models.base import aware, utcnow

NEXT = {
    "draft": {"deliberation"},
    "deliberation": {"vote"},
    "vote": {"decided"},
    "decided": {"carried_out"},
    "carried_out": {"evaluated"},
}


def _who(member: Member) -> str:
    return f"member:{member.id}"


def move(proposal: Proposal, to: str) -> None:
    if to not in NEXT.get(proposal.state, set()):
        raise conflict("bad-state", f"a proposal in {proposal.state} cannot move to {to}")
    proposal.state = to
    proposal.updated_at = utcnow()


def claim(session: Session, proposal: Proposal, from_state: str, to_state: str) -> None:
    """Move the state in the database only if it is still `from_state`: the clock and a
    facilitator may close the same vote at the same moment, and only one may win."""
    result = session.execute(update(Proposal).where(
        col(Proposal.id) == proposal.id, col(Proposal.state) == from_state).values(
        state=to_state, updated_at=utcnow()))
    if getattr(result, "rowcount", 1) != 1:
        raise conflict("bad-state", f"this proposal is no longer in {from_state}")
    proposal.state, proposal.updated_at = to_state, utcnow()


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


def create(session: Session, member: Member, body: LocalActor, title: str, text: str,
           affects: list[str] | None = None, own_uri: str = "") -> Proposal:
    require_member(session, member, body)
    check_text(title, text)
    targets = sorted(set(affects or []) | ({own_uri} if own_uri else set()))
    proposal = Proposal(body_id=body.id or 0, author_id=member.id or 0,
                        affects=json.dumps(targets))
    session.add(proposal)
    session.flush()
    session.add(ProposalVersion(proposal_id=proposal.id or 0, number=1, title=title, text=text,
                                author_id=member.id or 0))
    audit.append(session, _who(member), "proposal.created", f"proposal:{proposal.id}",
                 {"body": body.handle, "title": title, "affects": targets})
    return proposal


def edit_draft(session: Session, member: Member, proposal: Proposal, title: str,
               text: str) -> None:
    if proposal.state != "draft":
        raise conflict("bad-state", "only a draft can be edited; propose an amendment")
    if proposal.author_id != member.id:
        raise Problem(403, "forbidden", "only the author edits a draft")
    check_text(title, text)
    v = version(session, proposal, 1)
    v.title, v.text = title, text
    session.add(v)
    audit.append(session, _who(member), "proposal.edited", f"proposal:{proposal.id}",
                 {"title": title})


def open_deliberation(session: Session, member: Member, proposal: Proposal) -> None:
    body = body_of(session, proposal)
    roles = require_member(session, member, body)
    if proposal.author_id != member.id and "facilitator" not in roles:
        raise Problem(403, "forbidden", "the author or a facilitator opens deliberation")
    move(proposal, "deliberation")
    session.add(proposal)
    audit.append(session, _who(member), "proposal.deliberation", f"proposal:{proposal.id}")


def comment(session: Session, member: Member, proposal: Proposal, text: str,
            parent_id: int | None = None) -> Comment:
    require_member(session, member, body_of(session, proposal))
    if proposal.state not in ("deliberation", "vote"):
        raise conflict("bad-state", "comments are open during deliberation and vote")
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


def open_vote(session: Session, member: Member, proposal: Proposal,
              closes_at: datetime | None = None, urls: Urls | None = None) -> None:
    body = body_of(session, proposal)
    require_facilitator(session, member, body)
    now = utcnow()
    closes = aware(closes_at) if closes_at else \
        now + timedelta(days=statute_of(body).voting_days)
    if closes <= now:
        raise invalid("bad-deadline", "the vote must close in the future")
    pending = session.exec(select(Amendment.id).where(
        Amendment.proposal_id == proposal.id, Amendment.state == "voting")).first()
    if pending is not None:
        raise conflict("amendment-vote-open",
                       f"amendment {pending} is being voted on; the final vote waits for it")
    move(proposal, "vote")
    proposal.vote_opened_at, proposal.closes_at = now, closes
    frozen = freeze(proposal, body)
    session.add(proposal)
    audit.append(session, _who(member), "vote.opened", f"proposal:{proposal.id}",
                 {"version": proposal.current_version, "closes_at": closes.isoformat(),
                  "statute": frozen.to_dict()})
    polls.announce(session, urls, body, proposal, version(session, proposal).title)


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


def cast(session: Session, member: Member, proposal: Proposal, version_number: int,
         choice: str, reason: str = "") -> Vote:
    body = body_of(session, proposal)
    require_member(session, member, body)
    if proposal.state != "vote" or proposal.closes_at is None or \
            aware(proposal.closes_at) <= utcnow():
        raise conflict("vote-closed", "this proposal is not open for voting")
    if proposal.electorate == "bodies":
        raise conflict("votes-by-mandate", "member bodies vote on this matter, through the "
                                           "spokespersons their mandates name")
    if version_number != proposal.current_version:
        raise conflict("wrong-version",
                       f"the vote is on version {proposal.current_version}, not {version_number}")
    statute = statute_of_vote(proposal, body)
    c = ballot_choice(statute, choice, reason)
    vote = session.exec(select(Vote).where(Vote.proposal_id == proposal.id,
                                           Vote.member_id == member.id)).first()
    if vote is None:
        vote = Vote(proposal_id=proposal.id or 0, member_id=member.id or 0,
                    version=version_number, choice=c.value)
    vote.choice, vote.reason, vote.version, vote.cast_at = c.value, reason, version_number, \
        utcnow()
    session.add(vote)
    session.flush()
    audit.append(session, _who(member), "vote.cast", f"proposal:{proposal.id}",
                 {"version": version_number,
                  "choice": "secret" if statute.secret_ballot else c.value})
    return vote


def votes_of(session: Session, proposal: Proposal) -> list[Vote]:
    return list(session.exec(select(Vote).where(Vote.proposal_id == proposal.id)
                             .order_by(col(Vote.id))).all())
