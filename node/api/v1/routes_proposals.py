"""Proposals: list, create, read, deliberate, amend, vote, close; decisions."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.ids import RowId
from node.api.v1.deps import (
    ctx,
    db,
    decode_cursor,
    json_with_etag,
    member_tx,
    optional_member,
    page,
)
from node.api.v1.outputs import (
    AmendmentBallotOut,
    AmendmentCreated,
    BallotOut,
    CommentCreated,
    DecisionOut,
    DiffOut,
    EvaluationCreated,
    Page,
    ProposalFull,
    ProposalOut,
    VersionOut,
    ok,
)
from node.api.v1.schemas import (
    AmendmentBallot,
    AmendmentDecision,
    CastVote,
    Execution,
    NewAmendment,
    NewComment,
    NewEvaluation,
    NewProposal,
    OpenVote,
    defaults,
)
from node.api.v1.views import decision_view, proposal_view
from node.errors import not_found
from node.federations import escalation
from node.governance import amendments, bodies, decisions, proposals
from node.governance.authz import require_read
from node.governance.proposal_actions import ProposalState
from node.models import Amendment, Decision, Member, Proposal
from node.tx import Tx

router = APIRouter(prefix="/api/v1", tags=["proposals"])
STATES = tuple(str(s) for s in ProposalState)


def _readable(session: Session, member: Member | None, proposal_id: int) -> Proposal:
    p = proposals.get(session, proposal_id)
    require_read(session, member, proposals.body_of(session, p))
    return p


@router.get("/bodies/{handle}/proposals", responses=ok(Page[ProposalOut]))
def list_proposals(request: Request, handle: str, state: str | None = Query(None),
                   cursor: str | None = None, limit: int = Query(20, ge=1, le=100),
                   member: Member | None = Depends(optional_member),
                   session: Session = Depends(db)) -> Response:
    """Proposals of a body, oldest first; filter by `state`; page with `cursor`."""
    b = bodies.body_by_handle(session, handle)
    require_read(session, member, b)
    query = select(Proposal).where(Proposal.body_id == b.id)
    if state:
        if state not in STATES:
            from node.errors import invalid

            raise invalid("bad-filter", f"state is one of {', '.join(STATES)}")
        query = query.where(Proposal.state == state)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(col(Proposal.id) > after)
    rows = session.exec(query.order_by(col(Proposal.id)).limit(limit + 1)).all()
    now = ctx(request).clock.now()
    return json_with_etag(request, page([proposal_view(session, p, now, member=member)
                                         for p in rows], limit))


@router.post("/bodies/{handle}/proposals", status_code=201, responses=ok(ProposalFull, 201))
def create_proposal(request: Request, handle: str, body: NewProposal,
                    tx: Tx = Depends(member_tx)) -> Response:
    session, member = tx.session, tx.member
    b = bodies.body_by_handle(session, handle)
    p = proposals.create(tx, b, body.title, body.text, body.affects,
                         own_uri=tx.urls.actor(b.handle))
    session.commit()
    return json_with_etag(request, proposal_view(session, p, tx.now(), full=True,
                                                 member=member), 201)


@router.get("/proposals/{proposal_id}", responses=ok(ProposalFull))
def get_proposal(request: Request, proposal_id: RowId,
                 member: Member | None = Depends(optional_member),
                 session: Session = Depends(db)) -> Response:
    p = _readable(session, member, proposal_id)
    return json_with_etag(request, proposal_view(session, p, ctx(request).clock.now(),
                                                 full=True, member=member))


@router.get("/proposals/{proposal_id}/versions/{number}", responses=ok(VersionOut))
def get_version(request: Request, proposal_id: RowId, number: int,
                member: Member | None = Depends(optional_member),
                session: Session = Depends(db)) -> Response:
    p = _readable(session, member, proposal_id)
    v = proposals.version(session, p, number)
    return json_with_etag(request, {"number": v.number, "title": v.title, "text": v.text,
                                    "origin": v.origin, "author_id": v.author_id})


@router.get("/proposals/{proposal_id}/diff", responses=ok(DiffOut))
def get_diff(request: Request, proposal_id: RowId, a: int = Query(ge=1), b: int = Query(ge=1),
             member: Member | None = Depends(optional_member),
             session: Session = Depends(db)) -> Response:
    p = _readable(session, member, proposal_id)
    return json_with_etag(request, {"from": a, "to": b, "diff": proposals.diff(session, p, a, b)})


@router.put("/proposals/{proposal_id}", responses=ok(ProposalFull))
def edit_draft(request: Request, proposal_id: RowId, body: NewProposal,
               tx: Tx = Depends(member_tx)) -> Response:
    """The author rewrites a draft (title and text; `affects` is not changed here).
    Once in deliberation the text changes only through amendments."""
    session, member = tx.session, tx.member
    p = _readable(session, member, proposal_id)
    proposals.edit_draft(tx, p, body.title, body.text)
    return _act(request, session, p, member)


@router.post("/proposals/{proposal_id}/withdrawal", responses=ok(ProposalFull))
def withdraw(request: Request, proposal_id: RowId, tx: Tx = Depends(member_tx)) -> Response:
    """The author withdraws a draft: it stays on record as `withdrawn` and goes no further."""
    session, member = tx.session, tx.member
    p = _readable(session, member, proposal_id)
    proposals.withdraw(tx, p)
    return _act(request, session, p, member)


def _act(request: Request, session: Session, p: Proposal, member: Member) -> Response:
    session.commit()
    return json_with_etag(request, proposal_view(session, p, ctx(request).clock.now(),
                                                 full=True, member=member))


@router.post("/proposals/{proposal_id}/deliberation", responses=ok(ProposalFull))
async def open_deliberation(request: Request, proposal_id: RowId,
                            tx: Tx = Depends(member_tx)) -> Response:
    """Opens deliberation; a proposal that affects bodies beyond this one is sent up to
    the lowest federation covering them all (see `federated` in the answer)."""
    session, member = tx.session, tx.member
    # The SQL runs in worker threads; only sending the matter up waits on the loop.
    p = await asyncio.to_thread(_deliberate, tx, proposal_id)
    await escalation.send_up_if_needed(ctx(request), member, proposal_id)
    return json_with_etag(request, await asyncio.to_thread(_full_view, session, p, member,
                                                           tx.now()))


def _deliberate(tx: Tx, proposal_id: int) -> Proposal:
    p = proposals.get(tx.session, proposal_id)
    proposals.open_deliberation(tx, p)
    tx.commit()
    return p


def _full_view(session: Session, p: Proposal, member: Member, now: datetime
               ) -> dict[str, Any]:
    session.refresh(p)  # sending up may have marked it
    return proposal_view(session, p, now, full=True, member=member)


@router.post("/proposals/{proposal_id}/comments", status_code=201,
             responses=ok(CommentCreated, 201))
def add_comment(request: Request, proposal_id: RowId, body: NewComment,
                tx: Tx = Depends(member_tx)) -> Response:
    session = tx.session
    p = proposals.get(session, proposal_id)
    c = proposals.comment(tx, p, body.text, body.parent_id)
    session.commit()
    return json_with_etag(request, {"id": c.id, "text": c.text, "parent_id": c.parent_id}, 201)


@router.post("/proposals/{proposal_id}/amendments", status_code=201,
             responses=ok(AmendmentCreated, 201))
def add_amendment(request: Request, proposal_id: RowId, body: NewAmendment,
                  tx: Tx = Depends(member_tx)) -> Response:
    session = tx.session
    p = proposals.get(session, proposal_id)
    a = amendments.amend(tx, p, body.title, body.text, body.reason)
    session.commit()
    return json_with_etag(request, {"id": a.id, "state": a.state,
                                    "against_version": a.against_version}, 201)


@router.post("/proposals/{proposal_id}/amendments/{amendment_id}/decision",
             responses=ok(ProposalFull))
def decide_amendment(request: Request, proposal_id: RowId, amendment_id: RowId,
                     body: AmendmentDecision, tx: Tx = Depends(member_tx)) -> Response:
    session, member = tx.session, tx.member
    p = proposals.get(session, proposal_id)
    amendments.decide(tx, p, amendment_id, body.accept)
    return _act(request, session, p, member)


@router.post("/proposals/{proposal_id}/amendments/{amendment_id}/vote", responses=ok(ProposalFull))
def open_amendment_vote(request: Request, proposal_id: RowId, amendment_id: RowId,
                        body: OpenVote = defaults(OpenVote),
                        tx: Tx = Depends(member_tx)) -> Response:
    """A facilitator puts the amendment to the body's vote instead of the author deciding."""
    session, member = tx.session, tx.member
    p = proposals.get(session, proposal_id)
    amendments.open_vote(tx, p, amendment_id, body.closes_at)
    return _act(request, session, p, member)


@router.put("/proposals/{proposal_id}/amendments/{amendment_id}/ballot",
             responses=ok(AmendmentBallotOut))
def cast_on_amendment(request: Request, proposal_id: RowId, amendment_id: RowId,
                      body: AmendmentBallot, tx: Tx = Depends(member_tx)) -> Response:
    """Cast or change your vote on an amendment until its vote closes."""
    session = tx.session
    p = proposals.get(session, proposal_id)
    v = amendments.cast(tx, p, amendment_id, body.choice, body.reason)
    session.commit()
    return json_with_etag(request, {"amendment_id": v.amendment_id, "choice": v.choice})


@router.post("/proposals/{proposal_id}/amendments/{amendment_id}/close",
             responses=ok(ProposalFull))
def close_amendment_vote(request: Request, proposal_id: RowId, amendment_id: RowId,
                         tx: Tx = Depends(member_tx)) -> Response:
    """Close an amendment vote whose deadline has passed (the node also does this itself)."""
    session, member = tx.session, tx.member
    p = proposals.get(session, proposal_id)
    a = session.get(Amendment, amendment_id)
    if a is None or a.proposal_id != p.id:
        raise not_found("amendment")
    amendments.close_by(tx, a)
    return _act(request, session, p, member)


@router.post("/proposals/{proposal_id}/vote", responses=ok(ProposalFull))
def open_vote(request: Request, proposal_id: RowId, body: OpenVote = defaults(OpenVote),
              tx: Tx = Depends(member_tx)) -> Response:
    session, member = tx.session, tx.member
    p = proposals.get(session, proposal_id)
    proposals.open_vote(tx, p, body.closes_at)
    session.commit()
    return _act(request, session, p, member)


@router.put("/proposals/{proposal_id}/ballot", responses=ok(BallotOut))
def cast(request: Request, proposal_id: RowId, body: CastVote,
         tx: Tx = Depends(member_tx)) -> Response:
    """Cast or change your vote on the current version until the vote closes."""
    session = tx.session
    p = proposals.get(session, proposal_id)
    v = proposals.cast(tx, p, body.version, body.choice, body.reason)
    session.commit()
    return json_with_etag(request, {"proposal_id": p.id, "version": v.version,
                                    "choice": v.choice})


@router.post("/proposals/{proposal_id}/close", responses=ok(DecisionOut))
def close(request: Request, proposal_id: RowId, tx: Tx = Depends(member_tx)) -> Response:
    """Close a vote whose deadline has passed (the node also does this by itself)."""
    session = tx.session
    p = proposals.get(session, proposal_id)
    d = decisions.close_vote_by(tx, p)
    session.commit()
    return json_with_etag(request, decision_view(d, session))


def _decision(session: Session, member: Member | None, decision_id: int) -> Decision:
    d = session.get(Decision, decision_id)
    if d is None:
        raise not_found("decision")
    _readable(session, member, d.proposal_id)
    return d


@router.get("/decisions/{decision_id}", responses=ok(DecisionOut))
def get_decision(request: Request, decision_id: RowId,
                 member: Member | None = Depends(optional_member),
                 session: Session = Depends(db)) -> Response:
    return json_with_etag(request, decision_view(_decision(session, member, decision_id),
                                                 session))


@router.post("/decisions/{decision_id}/execution", responses=ok(DecisionOut))
def execution(request: Request, decision_id: RowId, body: Execution,
              tx: Tx = Depends(member_tx)) -> Response:
    session, member = tx.session, tx.member
    d = _decision(session, member, decision_id)
    decisions.set_execution(tx, d, body.state, body.notes)
    session.commit()
    return json_with_etag(request, decision_view(d, session))


@router.post("/decisions/{decision_id}/evaluations", status_code=201,
             responses=ok(EvaluationCreated, 201))
def evaluate(request: Request, decision_id: RowId, body: NewEvaluation,
             tx: Tx = Depends(member_tx)) -> Response:
    session, member = tx.session, tx.member
    d = _decision(session, member, decision_id)
    ev = decisions.evaluate(tx, d, body.score, body.comment)
    session.commit()
    return json_with_etag(request, {"id": ev.id, "score": ev.score}, 201)
