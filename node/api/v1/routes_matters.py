"""Federated matters: sending a proposal up, mandates (issue, recall, vote under them),
the votes a federation received, and verifying a federated decision."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.ids import RowId
from node.api.v1.deps import (
    ctx,
    db,
    json_with_etag,
    member_required,
    member_tx,
    optional_member,
)
from node.api.v1.matters_io import (
    MandatedVoteOut,
    MandateOut,
    SentUp,
    VerificationOut,
    VoteSent,
    mandate_view,
    mandated_vote_view,
)
from node.api.v1.outputs import Items, ok
from node.api.v1.schemas import MandatedChoice, NewMandate, Recall, SendUp, defaults
from node.errors import not_found
from node.federations import escalation, mandates
from node.federations.mandate_states import available_actions
from node.governance import proposals
from node.governance.authz import require_read
from node.models import Decision, Member
from node.models.matters import Mandate, MandatedVote
from node.tx import Tx

router = APIRouter(prefix="/api/v1", tags=["federated matters"])


@router.post("/proposals/{proposal_id}/send-up", responses=ok(SentUp))
async def send_up(request: Request, proposal_id: RowId, body: SendUp = defaults(SendUp),
                  member: Member = Depends(member_required)) -> Response:
    """Send a proposal to the lowest federation covering every body it affects (or to the
    named `federation`, which refuses it back down if it belongs lower)."""
    result = await escalation.send_up(ctx(request), member, proposal_id, body.federation)
    return json_with_etag(request, result)


@router.get("/proposals/{proposal_id}/mandates", responses=ok(Items[MandateOut]))
def list_mandates(request: Request, proposal_id: RowId,
                  member: Member | None = Depends(optional_member),
                  session: Session = Depends(db)) -> Response:
    """Mandates about this matter known here: the ones this body issued, or (at a
    federation) the ones its member bodies gave."""
    p = proposals.get(session, proposal_id)
    require_read(session, member, proposals.body_of(session, p))
    rows = session.exec(select(Mandate).where(Mandate.matter == p.matter)
                        .order_by(col(Mandate.id))).all() if p.matter else []
    urls, now = ctx(request).urls, ctx(request).clock.now()
    return json_with_etag(request, {"items": [mandate_view(m, available_actions(
        session, urls, member, m, now)) for m in rows]})


@router.post("/proposals/{proposal_id}/mandate", status_code=201,
             responses=ok(MandateOut, 201))
def issue_mandate(request: Request, proposal_id: RowId, body: NewMandate,
                  tx: Tx = Depends(member_tx)) -> Response:
    """A facilitator turns the body's decision on a federated matter into its mandate."""
    p = proposals.get(tx.session, proposal_id)
    m = mandates.issue(tx, p, body.position, body.spokespersons, body.amendments, body.limits,
                       body.expires_at)
    tx.commit()
    return json_with_etag(request, mandate_view(m, available_actions(
        tx.session, tx.urls, tx.member, m, tx.now())), 201)


@router.post("/mandates/{mandate_id}/recall", responses=ok(MandateOut))
def recall(request: Request, mandate_id: RowId, body: Recall = defaults(Recall),
           tx: Tx = Depends(member_tx)) -> Response:
    m = mandates.recall(tx, mandate_id, body.reason)
    tx.commit()
    return json_with_etag(request, mandate_view(m, available_actions(
        tx.session, tx.urls, tx.member, m, tx.now())))


@router.post("/mandates/{mandate_id}/vote", status_code=202, responses=ok(VoteSent, 202))
def vote(request: Request, mandate_id: RowId, body: MandatedChoice,
         tx: Tx = Depends(member_tx)) -> Response:
    """A spokesperson casts the body's vote at the federation (sent; the federation
    counts it only within the mandate)."""
    uri = mandates.cast(tx, mandate_id, body.choice)
    tx.commit()
    return json_with_etag(request, {"vote": uri}, 202)


@router.get("/proposals/{proposal_id}/mandated-votes", responses=ok(Items[MandatedVoteOut]))
def mandated_votes(request: Request, proposal_id: RowId,
                   member: Member | None = Depends(optional_member),
                   session: Session = Depends(db)) -> Response:
    """At a federation: each member body's vote on the matter and the mandate behind it."""
    p = proposals.get(session, proposal_id)
    require_read(session, member, proposals.body_of(session, p))
    rows = session.exec(select(MandatedVote).where(MandatedVote.proposal_id == p.id)
                        .order_by(col(MandatedVote.id))).all()
    return json_with_etag(request, {"items": [mandated_vote_view(v) for v in rows]})


@router.get("/decisions/{decision_id}/verification", responses=ok(VerificationOut))
async def verification(request: Request, decision_id: RowId,
                       member: Member | None = Depends(optional_member)) -> Response:
    """Recompute the federated decision on this matter from its signed votes and
    mandates, checking every proof (what `comuna verify` prints)."""
    c = ctx(request)

    def readable() -> None:  # in a worker thread: not SQL on the loop
        with Session(c.engine) as s:
            d = s.get(Decision, decision_id)
            if d is None:
                raise not_found("decision")
            require_read(s, member, proposals.body_of(s, proposals.get(s, d.proposal_id)))

    await asyncio.to_thread(readable)
    report = await escalation.verify(c, str(decision_id))
    return json_with_etag(request, {"decision": report.decision, "holds": report.holds,
                                    "outcome": report.outcome, "counted": report.counted,
                                    "votes": report.lines, "problems": report.problems,
                                    "findings": [{"code": f.code, "body": f.body, **f.params}
                                                 for f in report.findings]})
