"""The economy in the pages: a body's offers and needs with a form to publish,
the exchanges proposed to it or by it with their answers, deliveries to record or
confirm, what it gave and received, and its enterprises. Rules live in
node.economy; these handlers only read forms and show refusals."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.economy import deliveries, enterprises, exchanges, intents, ledger, plans, service
from node.errors import Problem
from node.federations.membership import members_of
from node.governance.bodies import body_by_handle
from node.governance.members import roles_in
from node.models import (
    Commitment,
    EconomicEvent,
    Exchange,
    Intent,
    JointPlan,
    LocalActor,
    Member,
)
from node.web.actions import (
    member_of,
    namer,
    refusal,
    run_action,
    see_other,
    show_body,
)
from node.web.i18n import translator
from node.web.render import language, page
from node.web.session import form

router = APIRouter(include_in_schema=False)


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text.strip().replace(",", "."))
    except InvalidOperation as exc:
        raise Problem(422, "bad-quantity", "write the quantity as a number") from exc


def _labels(_: Any) -> dict[str, Any]:
    return {
        "sides": {"offer": _("Oferta"), "need": _("Necesidad")},
        "intent_states": {"open": _("abierta"), "matched": _("cubierta"),
                          "withdrawn": _("retirada")},
        "exchange_states": {"proposed": _("propuesto"), "agreed": _("acordado"),
                            "refused": _("rechazado")},
        "commitment_states": {"proposed": _("propuesto"), "agreed": _("acordado"),
                              "partial": _("entregado en parte"),
                              "fulfilled": _("cumplido"), "cancelled": _("cancelado")},
        "event_states": {"recorded": _("por confirmar"), "confirmed": _("confirmada"),
                         "disputed": _("disputada")},
        "plan_states": {"proposed": _("en decisión"), "approved": _("aprobado"),
                        "refused": _("rechazado")},
    }


@router.get("/b/{handle}/economy")
def economy_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        urls = request.app.state.ctx.urls
        here = urls.actor(b.handle)
        lang = language(request, me)
        cat = intents.catalogue(s)
        own = s.exec(select(Intent).where(Intent.holder_id == b.id, Intent.received_from == "")
                     .order_by(col(Intent.id).desc()).limit(200)).all()
        held = s.exec(select(Intent).where(Intent.holder_id == b.id, Intent.received_from != "",
                                           Intent.state == "open")
                      .order_by(col(Intent.id).desc()).limit(200)).all()
        mine = exchanges.of_body(s, here, b, limit=200)
        events = s.exec(select(EconomicEvent).where(
            (col(EconomicEvent.provider) == here) | (col(EconomicEvent.receiver) == here))
            .order_by(col(EconomicEvent.id).desc()).limit(200)).all()
        roles = roles_in(s, me, b)
        kinds = sorted(cat.kinds.values(), key=lambda k: k.label(lang))
        joint = s.exec(select(JointPlan).where(JointPlan.body_id == b.id)
                       .order_by(col(JointPlan.id).desc()).limit(50)).all()
        return page(
            request, "economy.html", me, body=b, here=here,
            own=[intents.view(r, cat, lang) for r in own],
            held=[intents.view(r, cat, lang) for r in held],
            exchanges=[_exchange(s, e, here, b) for e in mine],
            events=[deliveries.view(e) for e in events],
            ledger=ledger.of_body(s, here), kinds=[(k.uri, k.label(lang)) for k in kinds],
            kind_names={k.uri: k.label(lang) for k in kinds},
            units=sorted({u for k in kinds for u in cat.units_of(k.uri)}),
            enterprises=enterprises.listed(s, b),
            plans=[plans.view(p) for p in joint],
            recorded=plans.recorded(s, list(joint)),
            flows=ledger.flows(s, members_of(s, b)), plan_rows=range(ROWS),
            actions={"inputs": plans.INPUTS, "outputs": plans.OUTPUTS},
            name_of=namer(s, urls, b),
            is_member="member" in roles, is_facilitator="facilitator" in roles,
            **_labels(translator(lang)))

    return show_body(request, handle, view)


def _exchange(s: Session, e: Exchange, here: str, b: LocalActor) -> dict[str, Any]:
    v = exchanges.view(s, e)
    answers = v["answers"]
    assert isinstance(answers, dict)
    v["awaits_us"] = e.state == "proposed" and (
        (e.mode == "allocation" and e.proposer_id == b.id) or
        (e.mode == "barter" and e.proposer_id is None and here not in answers))
    return v


def _back(handle: str) -> str:
    return f"/b/{handle}/economy"


@router.post("/b/{handle}/economy/intents")
async def publish(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> str:
        b = body_by_handle(s, handle)
        hours = d.get("rise_hours", "24").strip() or "24"
        if not hours.isdigit():
            raise Problem(422, "bad-window", "the waiting window is a number of hours")
        service.publish(s, request.app.state.ctx.urls, me, b, d.get("side", ""),
                        d.get("kind", ""), _amount(d.get("quantity", "")), d.get("unit", ""),
                        d.get("enterprise") or None, d.get("summary", ""),
                        d.get("location", ""), rise_after=int(hours) * 3600)
        request.app.state.ctx.economy_wakeup.set()
        return _back(handle)

    return await run_action(request, _back(handle), act)


@router.post("/b/{handle}/economy/intents/{intent_id}/withdraw")
async def withdraw(request: Request, handle: str, intent_id: int) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> str:
        service.withdraw(s, request.app.state.ctx.urls, me, body_by_handle(s, handle),
                         intent_id)
        return _back(handle)

    return await run_action(request, _back(handle), act)


@router.post("/b/{handle}/economy/exchanges/{exchange_id}/answer")
async def answer(request: Request, handle: str, exchange_id: int) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> str:
        service.answer(s, request.app.state.ctx.urls, me, body_by_handle(s, handle),
                       exchange_id, d.get("accept") == "1", d.get("reason", ""))
        request.app.state.ctx.economy_wakeup.set()
        return _back(handle)

    return await run_action(request, _back(handle), act)


@router.post("/b/{handle}/economy/commitments/{commitment_id}/deliver")
async def deliver(request: Request, handle: str, commitment_id: int) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> str:
        c = s.get(Commitment, commitment_id)
        if c is None:
            raise Problem(404, "not-found", "no such commitment")
        deliveries.record(s, request.app.state.ctx.urls, me, body_by_handle(s, handle), c.uri,
                          _amount(d.get("quantity", "")), note=d.get("note", ""))
        return _back(handle)

    return await run_action(request, _back(handle), act)


@router.post("/b/{handle}/economy/deliveries/{event_id}/confirm")
async def confirm(request: Request, handle: str, event_id: int) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> str:
        ev = s.get(EconomicEvent, event_id)
        if ev is None:
            raise Problem(404, "not-found", "no such delivery")
        deliveries.confirm(s, request.app.state.ctx.urls, me, body_by_handle(s, handle),
                           ev.uri, d.get("accept") == "1")
        return _back(handle)

    return await run_action(request, _back(handle), act)


@router.post("/b/{handle}/economy/enterprises")
async def new_enterprise(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> str:
        enterprises.create(s, me, body_by_handle(s, handle), d.get("slug", "").strip(),
                           d.get("name", ""), d.get("sector", ""))
        return _back(handle)

    return await run_action(request, _back(handle), act)


ROWS = 4  # commitment rows in the plan form


@router.post("/b/{handle}/economy/plans")
async def draft_plan(request: Request, handle: str) -> Response:
    """A plan with one process, from the form's commitment rows (the API takes any
    number of processes)."""
    ctx = request.app.state.ctx
    me = await member_of(request)
    back = _back(handle)
    if me is None:
        return see_other(f"/login?next={back}")
    try:
        d = await form(request)
        rows = []
        for i in range(ROWS):
            if not d.get(f"kind{i}") or not d.get(f"quantity{i}", "").strip():
                continue
            rows.append({"side": d.get(f"side{i}", "inputs"), "action": d.get(f"action{i}"),
                         "provider": d.get(f"provider{i}") or None,
                         "receiver": d.get(f"receiver{i}") or None, "kind": d[f"kind{i}"],
                         "quantity": str(_amount(d[f"quantity{i}"])),
                         "unit": d.get(f"unit{i}", ""), "note": d.get(f"note{i}", "")})
        process = {"name": d.get("process", "") or d.get("title", ""), "content": "",
                   "inputs": [r for r in rows if r["side"] == "inputs"],
                   "outputs": [r for r in rows if r["side"] == "outputs"]}
        await service.draft_plan(ctx, me, handle, d.get("title", ""), d.get("content", ""),
                                 [process])
    except Problem as exc:
        return refusal(request, me, exc, back)
    return see_other(back)
