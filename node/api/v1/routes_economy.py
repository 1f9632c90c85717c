"""The communal economy: the resource catalogue, enterprises, offers and needs,
exchanges and their answers, deliveries, and the ledger of what was given and
received."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.ids import RowId
from node.api.v1.deps import ctx, db, json_with_etag, member_required, member_tx, optional_member
from node.api.v1.economy_io import (
    Answer,
    Cancellation,
    CommitmentOut,
    Confirmation,
    EnterpriseOut,
    EventOut,
    ExchangeOut,
    Flow,
    IntentOut,
    KindOut,
    LedgerLine,
    NewDelivery,
    NewEnterprise,
    NewIntent,
    NewKind,
    NewPlan,
    NewWorker,
    PlanOut,
)
from node.api.v1.outputs import Items, ok
from node.api.v1.schemas import defaults
from node.economy import (
    enterprises,
    exchanges,
    handovers,
    intents,
    kinds,
    ledger,
    operations,
    plans,
)
from node.economy.catalogue import Catalogue
from node.economy.offered import Viewer
from node.errors import not_found
from node.federations.membership import members_of
from node.governance.authz import require_read
from node.governance.bodies import body_by_handle
from node.models import (
    Commitment,
    EconomicEvent,
    Exchange,
    Intent,
    JointPlan,
    LocalActor,
    Member,
)
from node.tx import Tx

router = APIRouter(prefix="/api/v1", tags=["economy"])


def _readable(session: Session, member: Member | None, handle: str) -> LocalActor:
    body = body_by_handle(session, handle)
    require_read(session, member, body)
    return body


def _enterprise_view(session: Session, request: Request, body: LocalActor,
                     e: object) -> dict[str, object]:
    from node.models import Enterprise

    assert isinstance(e, Enterprise)
    return {"id": e.id, "uri": enterprises.uri(ctx(request).urls, body, e.slug),
            "slug": e.slug, "name": e.name, "sector": e.sector, "description": e.description,
            "owners": json.loads(e.owners),
            "workers": [{"username": m.username, "council": c}
                        for m, c in enterprises.workers(session, e)]}


@router.get("/resource-kinds", responses=ok(Items[KindOut]))
def resource_kinds(request: Request, lang: Literal["es", "en"] = "es",
                   session: Session = Depends(db)) -> Response:
    """The shared catalogue of resource kinds and the units each may be given in."""
    cat = intents.catalogue(session)
    items = [_kind_view(cat, k.uri, lang) for k in sorted(cat.kinds.values(),
                                                          key=lambda k: k.slug)]
    return json_with_etag(request, {"items": items})


def _kind_view(cat: Catalogue, uri: str, lang: str) -> dict[str, object]:
    k = cat.kinds[uri]
    return {"uri": k.uri, "slug": k.slug, "label": k.label(lang), "unit": k.unit,
            "units": cat.units_of(k.uri)}


@router.post("/resource-kinds", status_code=201, responses=ok(KindOut, 201))
def add_kind(request: Request, data: NewKind, tx: Tx = Depends(member_tx),
             session: Session = Depends(db)) -> Response:
    """A facilitator of the node's main body adds a resource kind to the catalogue."""
    c = ctx(request)
    row = kinds.add(tx, body_by_handle(session, c.primary.handle),
                    data.slug, data.label_es, data.label_en, data.unit, data.extra)
    session.commit()
    return json_with_etag(request, _kind_view(intents.catalogue(session), row.uri, "es"), 201)


@router.get("/bodies/{handle}/enterprises", responses=ok(Items[EnterpriseOut]))
def list_enterprises(request: Request, handle: str,
                     member: Member | None = Depends(optional_member),
                     session: Session = Depends(db)) -> Response:
    body = _readable(session, member, handle)
    return json_with_etag(request, {"items": [_enterprise_view(session, request, body, e)
                                              for e in enterprises.listed(session, body)]})


@router.post("/bodies/{handle}/enterprises", status_code=201,
             responses=ok(EnterpriseOut, 201))
def new_enterprise(request: Request, handle: str, data: NewEnterprise,
                   tx: Tx = Depends(member_tx),
                   session: Session = Depends(db)) -> Response:
    """A facilitator records a socially owned enterprise of the body."""
    body = body_by_handle(session, handle)
    e = enterprises.create(tx, body, data.slug, data.name, data.sector,
                           data.description, data.owners)
    session.commit()
    return json_with_etag(request, _enterprise_view(session, request, body, e), 201)


@router.post("/bodies/{handle}/enterprises/{slug}/workers", responses=ok(EnterpriseOut))
def add_worker(request: Request, handle: str, slug: str, data: NewWorker,
               tx: Tx = Depends(member_tx),
               session: Session = Depends(db)) -> Response:
    """Name a member as a worker of the enterprise, or to its council."""
    body = body_by_handle(session, handle)
    e = enterprises.get(session, body, slug)
    worker = session.exec(select(Member).where(Member.username == data.username)).first()
    if worker is None:
        raise not_found("member")
    enterprises.add_worker(tx, body, e, worker, data.council)
    session.commit()
    return json_with_etag(request, _enterprise_view(session, request, body, e))


@router.get("/bodies/{handle}/intents", responses=ok(Items[IntentOut]))
def list_intents(request: Request, handle: str, side: Literal["offer", "need"] | None = None,
                 held: bool = False, lang: Literal["es", "en"] = "es",
                 member: Member | None = Depends(optional_member),
                 session: Session = Depends(db)) -> Response:
    """The body's own offers and needs; with `held=true`, those its members sent up
    to it (at a federation)."""
    body = _readable(session, member, handle)
    stmt = select(Intent).where(Intent.holder_id == body.id)
    stmt = stmt.where(Intent.received_from != "") if held else \
        stmt.where(Intent.received_from == "")
    if side:
        stmt = stmt.where(Intent.side == side)
    cat = intents.catalogue(session)
    rows = session.exec(stmt.order_by(col(Intent.id).desc()).limit(500)).all()
    see = Viewer(session, ctx(request).urls, member, body)
    return json_with_etag(request, {"items": [see.intent(r, cat, lang) for r in rows]})


@router.post("/bodies/{handle}/intents", status_code=201, responses=ok(IntentOut, 201))
def new_intent(request: Request, handle: str, data: NewIntent,
               tx: Tx = Depends(member_tx),
               session: Session = Depends(db)) -> Response:
    """Publish an offer or a need. It is matched inside the body at once; what stays
    unmatched rises to the body's federations after `rise_after` seconds."""
    c = ctx(request)
    body = body_by_handle(session, handle)
    row = operations.publish(tx, body, data.side, data.kind,
                             Decimal(data.quantity), data.unit, data.enterprise, data.summary,
                             data.location, data.starts_at, data.ends_at, data.rise_after,
                             data.in_return)
    session.commit()
    see = Viewer(session, c.urls, tx.member, body)
    return json_with_etag(request, see.intent(row, intents.catalogue(session)), 201)


@router.post("/bodies/{handle}/intents/{intent_id}/withdraw", responses=ok(IntentOut))
def withdraw_intent(request: Request, handle: str, intent_id: RowId,
                    tx: Tx = Depends(member_tx),
                    session: Session = Depends(db)) -> Response:
    """Take an offer or need back; the federations it rose to are told."""
    c = ctx(request)
    body = body_by_handle(session, handle)
    row = operations.withdraw(tx, body, intent_id)
    session.commit()
    see = Viewer(session, c.urls, tx.member, body)
    return json_with_etag(request, see.intent(row, intents.catalogue(session)))


@router.get("/bodies/{handle}/exchanges", responses=ok(Items[ExchangeOut]))
def list_exchanges(request: Request, handle: str,
                   member: Member | None = Depends(optional_member),
                   session: Session = Depends(db)) -> Response:
    """Exchanges the body proposed (inside itself, or between its members) or is a
    party to."""
    body = _readable(session, member, handle)
    rows = exchanges.of_body(session, ctx(request).urls.actor(body.handle), body)
    see = Viewer(session, ctx(request).urls, member, body)
    return json_with_etag(request, {"items": [see.exchange(e) for e in rows]})


@router.post("/bodies/{handle}/exchanges/{exchange_id}/answer", responses=ok(ExchangeOut))
def answer_exchange(request: Request, handle: str, exchange_id: RowId, data: Answer,
                    tx: Tx = Depends(member_tx),
                    session: Session = Depends(db)) -> Response:
    """Accept or refuse an exchange asked of the body (its facilitators, or the
    councils of the enterprises concerned)."""
    c = ctx(request)
    body = body_by_handle(session, handle)
    ex = operations.answer(tx, body, exchange_id, data.accept, data.reason)
    session.commit()
    return json_with_etag(request, Viewer(session, c.urls, tx.member, body).exchange(ex))


@router.post("/bodies/{handle}/commitments/{commitment_id}/deliveries", status_code=201,
             responses=ok(EventOut, 201))
def record_delivery(request: Request, handle: str, commitment_id: RowId, data: NewDelivery,
                    tx: Tx = Depends(member_tx),
                    session: Session = Depends(db)) -> Response:
    """The giver records a delivery (all or part of what it committed)."""
    c = ctx(request)
    body = body_by_handle(session, handle)
    com = handovers.commitment_by_id(session, commitment_id)
    ev = handovers.record(tx, body, com.uri, Decimal(data.quantity),
                          None, data.happened_at, data.note)
    session.commit()
    return json_with_etag(request, Viewer(session, c.urls, tx.member, body).event(ev), 201)


@router.post("/bodies/{handle}/deliveries/{event_id}/confirm", responses=ok(EventOut))
def confirm_delivery(request: Request, handle: str, event_id: RowId, data: Confirmation,
                     tx: Tx = Depends(member_tx),
                     session: Session = Depends(db)) -> Response:
    """The receiver confirms (or disputes) a delivery recorded by the giver."""
    c = ctx(request)
    body = body_by_handle(session, handle)
    ev = session.get(EconomicEvent, event_id)
    if ev is None:
        raise not_found("delivery")
    handovers.confirm(tx, body, ev.uri, data.accept)
    session.commit()
    return json_with_etag(request, Viewer(session, c.urls, tx.member, body).event(ev))


@router.post("/bodies/{handle}/commitments/{commitment_id}/cancel",
             responses=ok(CommitmentOut))
def cancel_commitment(request: Request, handle: str, commitment_id: RowId,
                      data: Cancellation = defaults(Cancellation),
                      tx: Tx = Depends(member_tx),
                      session: Session = Depends(db)) -> Response:
    """Either side calls off what is not delivered yet; deliveries made stand."""
    c = ctx(request)
    body = body_by_handle(session, handle)
    com = handovers.commitment_by_id(session, commitment_id)
    handovers.cancel(tx, body, com.uri, data.reason)
    session.commit()
    return json_with_etag(request, Viewer(session, c.urls, tx.member, body).commitment(com))


@router.get("/bodies/{handle}/deliveries", responses=ok(Items[EventOut]))
def list_deliveries(request: Request, handle: str,
                    member: Member | None = Depends(optional_member),
                    session: Session = Depends(db)) -> Response:
    """Deliveries the body gave or received, and (at a federation) those made under
    the exchanges it proposed."""
    body = _readable(session, member, handle)
    me = ctx(request).urls.actor(body.handle)
    brokered = select(Commitment.uri).join(
        Exchange, col(Exchange.uri) == col(Commitment.exchange)).where(
        Exchange.proposer_id == body.id)
    rows = session.exec(select(EconomicEvent).where(
        (col(EconomicEvent.provider) == me) | (col(EconomicEvent.receiver) == me)
        | col(EconomicEvent.commitment).in_(brokered))
        .order_by(col(EconomicEvent.id).desc()).limit(500)).all()
    see = Viewer(session, ctx(request).urls, member, body)
    return json_with_etag(request, {"items": [see.event(e) for e in rows]})


@router.get("/bodies/{handle}/ledger", responses=ok(Items[LedgerLine]))
def body_ledger(request: Request, handle: str, since: datetime | None = None,
                until: datetime | None = None,
                member: Member | None = Depends(optional_member),
                session: Session = Depends(db)) -> Response:
    """What the body gave and received, per partner, from `since` until `until`
    (confirmed deliveries only)."""
    body = _readable(session, member, handle)
    lines = ledger.of_body(session, ctx(request).urls.actor(body.handle), since, until)
    return json_with_etag(request, {"items": lines})


@router.get("/bodies/{handle}/flows", responses=ok(Items[Flow]))
def federation_flows(request: Request, handle: str, since: datetime | None = None,
                     until: datetime | None = None,
                     member: Member | None = Depends(optional_member),
                     session: Session = Depends(db)) -> Response:
    """At a federation: who gave what to whom among its members."""
    body = _readable(session, member, handle)
    items = ledger.flows(session, members_of(session, body), since, until)
    return json_with_etag(request, {"items": items})


@router.post("/bodies/{handle}/plans", status_code=201, responses=ok(PlanOut, 201))
async def draft_plan(request: Request, handle: str, data: NewPlan,
                     member: Member = Depends(member_required)) -> Response:
    """A facilitator drafts a joint plan (FEP-3264): every participating body, this one
    included, decides it through a proposal of its own."""
    out = await operations.draft_plan(ctx(request), member, handle, data.title, data.content,
                                   [p.model_dump() for p in data.processes])
    return json_with_etag(request, out, 201)


@router.get("/bodies/{handle}/plans", responses=ok(Items[PlanOut]))
def list_plans(request: Request, handle: str,
               member: Member | None = Depends(optional_member),
               session: Session = Depends(db)) -> Response:
    body = _readable(session, member, handle)
    rows = session.exec(select(JointPlan).where(JointPlan.body_id == body.id)
                        .order_by(col(JointPlan.id).desc()).limit(200)).all()
    got = plans.recorded(session, list(rows))
    see = Viewer(session, ctx(request).urls, member, body)
    return json_with_etag(request, {"items": [see.plan(r, got) for r in rows]})
