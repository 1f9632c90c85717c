"""The economy in the pages: a body's offers and needs with a form to publish,
the exchanges proposed to it or by it with their answers, deliveries to record or
confirm, what it gave and received, its joint plans and its enterprises. Rules live
in node.economy (node.economy.states says what each person may do, and the page
offers only that); these handlers read forms and say what happened."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.ids import RowId
from node.economy import (
    enterprises,
    exchanges,
    handovers,
    intents,
    ledger,
    operations,
    plans,
    states,
)
from node.economy.offered import Viewer
from node.errors import Problem
from node.federations.membership import federations_of, members_of
from node.governance.bodies import body_by_handle
from node.models import EconomicEvent, Exchange, Intent, JointPlan, LocalActor, Member
from node.web.actions import (
    Done,
    member_of,
    open_session,
    refusal,
    run_action,
    see_other,
    show_body,
)
from node.web.economy_labels import Namer, amount, labels, parse_number
from node.web.economy_units import PageUnits
from node.web.i18n import translator
from node.web.numbers import whole
from node.web.pictures.bars import Words
from node.web.pictures.flows import flows as draw_flows
from node.web.pictures.ledger import ledger as draw_ledger
from node.web.render import language, page
from node.web.session import form

router = APIRouter(include_in_schema=False)

ROWS = 4  # commitment rows in the plan form
# The periods the flows between member bodies are shown for (?periodo=), in days.
PERIODS: dict[str, int | None] = {"30": 30, "90": 90, "365": 365, "todo": None}
DEFAULT_PERIOD = "365"


def period_labels(_: Any) -> dict[str, str]:
    return {"30": _("últimos 30 días"), "90": _("últimos 90 días"),
            "365": _("último año"), "todo": _("desde el principio")}


def _amount(text: str, lang: str, field: str = "quantity") -> Decimal:
    try:
        value = parse_number(text, lang)
    except ValueError as exc:
        raise Problem(422, "bad-quantity", "write the quantity as a number",
                      field=field) from exc
    if not value.is_finite():
        raise Problem(422, "bad-quantity", "write the quantity as a number", field=field)
    return value


def _partners(s: Session, urls: Any, b: LocalActor) -> list[str]:
    """Bodies a plan may name as giving or receiving: this node's bodies, the
    federations this body belongs to and, at a federation, its members."""
    local = [urls.actor(a.handle) for a in s.exec(select(LocalActor)
                                                  .order_by(col(LocalActor.id))).all()]
    return list(dict.fromkeys(local + federations_of(s, b) + members_of(s, b)))


@router.get("/b/{handle}/economy")
def economy_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        urls = request.app.state.ctx.urls
        here = urls.actor(b.handle)
        lang = language(request, me)
        _ = translator(lang)
        cat = intents.catalogue(s)
        see = Viewer(s, urls, me, b)
        own = [see.intent(r, cat, lang) for r in s.exec(
            select(Intent).where(Intent.holder_id == b.id, Intent.received_from == "")
            .order_by(col(Intent.id).desc()).limit(200)).all()]
        held = [see.intent(r, cat, lang) for r in s.exec(
            select(Intent).where(Intent.holder_id == b.id, Intent.received_from != "",
                                 Intent.state == "open")
            .order_by(col(Intent.id).desc()).limit(200)).all()]
        # One resource, one unit: the one this body published it in (economy_units).
        unit = PageUnits(cat, here, own, held)
        mine = [unit.exchange(see.exchange(e))
                for e in exchanges.of_body(s, here, b, limit=200)]
        events = [unit.event(see.event(e)) for e in s.exec(select(EconomicEvent).where(
            (col(EconomicEvent.provider) == here) | (col(EconomicEvent.receiver) == here))
            .order_by(col(EconomicEvent.id).desc()).limit(200)).all()]
        joint = list(s.exec(select(JointPlan).where(JointPlan.body_id == b.id)
                            .order_by(col(JointPlan.id).desc()).limit(50)).all())
        recorded = plans.recorded(s, joint)
        shown_plans = [unit.plan(see.plan(p, recorded)) for p in joint]
        period = request.query_params.get("periodo", DEFAULT_PERIOD)
        if period not in PERIODS:
            return refusal(request, me, Problem(
                422, "bad-window", "the period is 30, 90 or 365 days, or todo"), _back(handle))
        days = PERIODS[period]
        since = request.app.state.ctx.clock.now() - timedelta(days=days) if days else None
        gave = unit.ledger(ledger.of_body(s, here))
        members = members_of(s, b)
        flows = unit.flows(ledger.flows(s, members, since))
        partners = _partners(s, urls, b)
        kinds = sorted(cat.kinds.values(), key=lambda k: k.label(lang))
        name_of = Namer(s, urls, [here, *partners, *_uris(own, held, mine, events, gave,
                                                           flows, shown_plans)], _)
        words = labels(_)
        kind_names = {k.uri: k.label(lang) for k in kinds}
        drawn = Words(name_of, lambda k: kind_names.get(k, _("recurso sin nombre")),
                      lambda q, u: amount(q, u, _, lang),
                      lambda u: words["unit_names"].get(u, u), _)
        period_words = period_labels(_)
        return page(
            request, "economy.html", me, body=b, here=here, own=own, held=held,
            ledger_picture=draw_ledger(b.name, gave, drawn),
            flows_picture=draw_flows(period_words[period], flows, drawn)
            if flows or members else None,
            periods=list(period_words.items()), period=period,
            exchanges=mine, events=events, ledger=gave, flows=flows, plans=shown_plans,
            kinds=[(k.uri, k.label(lang)) for k in kinds],
            kind_names=kind_names,
            units=sorted({u for k in kinds for u in cat.units_of(k.uri)},
                         key=lambda u: words["unit_names"].get(u, u)),
            enterprises=enterprises.listed(s, b), plan_rows=range(ROWS),
            vf_inputs=plans.INPUTS, vf_outputs=plans.OUTPUTS,
            partners=[(u, name_of(u)) for u in partners if u != here],
            body_actions=states.available_actions(s, urls, me, b, b),
            publish_for=states.publishable_for(s, me, b), name_of=name_of,
            amount=lambda q, u: amount(q, u, _, lang), **words)

    return show_body(request, handle, view)


def _uris(*groups: list[dict[str, Any]]) -> list[str]:
    """Every body or enterprise a page's rows name, for one lookup of their names."""
    keys = ("body", "agent", "proposer", "provider", "receiver", "provider_agent",
            "receiver_agent", "initiator", "partner", "from", "to")
    out: list[str] = []
    for rows in groups:
        for row in rows:
            out += [str(row[k]) for k in keys if row.get(k)]
            out += [str(u) for u in row.get("risen_to") or []]
            out += [str(u) for u in row.get("parties") or []]
            for c in row.get("commitments") or []:
                out += [str(c[k]) for k in keys if c.get(k)]
    return out


def _back(handle: str, anchor: str = "") -> str:
    return f"/b/{handle}/economy" + (f"#{anchor}" if anchor else "")


@router.post("/b/{handle}/economy/intents")
async def publish(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> Done:
        b = body_by_handle(s, handle)
        hours = d.get("rise_hours", "24").strip() or "24"
        if whole(hours) is None:
            raise Problem(422, "bad-window", "the waiting window is a number of hours",
                          field="rise_hours")
        row = operations.publish(request.app.state.ctx.tx(s, me), b, d.get("side", ""),
                                 d.get("kind", ""),
                                 _amount(d.get("quantity", ""), language(request, me)),
                                 d.get("unit", ""), d.get("enterprise") or None,
                                 d.get("summary", ""), d.get("location", ""),
                                 rise_after=int(hours) * 3600)
        done = "Oferta publicada." if row.side == "offer" else "Necesidad publicada."
        return _back(handle, f"i{row.id}"), done

    return await run_action(request, _back(handle, "publicar"), act)


@router.post("/b/{handle}/economy/intents/{intent_id}/withdraw")
async def withdraw(request: Request, handle: str, intent_id: RowId) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> Done:
        row = operations.withdraw(request.app.state.ctx.tx(s, me), body_by_handle(s, handle),
                                  intent_id)
        done = "Oferta retirada." if row.side == "offer" else "Necesidad retirada."
        return _back(handle, f"i{intent_id}"), done

    return await run_action(request, _back(handle, f"i{intent_id}"), act)


def _accepted(request: Request, s: Session, b: LocalActor, ex: Exchange, _: Any) -> str:
    """What an acceptance did: the exchange agreed, or whose answer it still waits for."""
    if ex.state == "agreed":
        return str(_("Intercambio aceptado: quedó acordado."))
    urls = request.app.state.ctx.urls
    missing = exchanges.still_to_accept(ex)
    name_of = Namer(s, urls, [urls.actor(b.handle), ex.proposer, *missing], _)
    said = {"body": name_of(urls.actor(b.handle))}
    if missing:
        names = [name_of(u) for u in missing]
        said["missing"] = names[0] if len(names) == 1 else \
            ", ".join(names[:-1]) + " " + _("y") + " " + names[-1]
        return str(_("Aceptado por %(body)s; falta que acepte %(missing)s.") % said)
    said["proposer"] = name_of(ex.proposer)
    return str(_("Aceptado por %(body)s; falta que %(proposer)s, que lo propuso, lo "
                 "cierre.") % said)


@router.post("/b/{handle}/economy/exchanges/{exchange_id}/answer")
async def answer(request: Request, handle: str, exchange_id: RowId) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> Done:
        accept = d.get("accept") == "1"
        b = body_by_handle(s, handle)
        ex = operations.answer(request.app.state.ctx.tx(s, me), b, exchange_id, accept,
                               d.get("reason", ""))
        if not accept:
            return _back(handle, f"x{exchange_id}"), "Intercambio rechazado."
        return _back(handle, f"x{exchange_id}"), _accepted(
            request, s, b, ex, translator(language(request, me)))

    return await run_action(request, _back(handle, f"x{exchange_id}"), act)


@router.post("/b/{handle}/economy/commitments/{commitment_id}/deliver")
async def deliver(request: Request, handle: str, commitment_id: RowId) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> Done:
        c = handovers.commitment_by_id(s, commitment_id)
        handovers.record(request.app.state.ctx.tx(s, me), body_by_handle(s, handle), c.uri,
                         _amount(d.get("quantity", ""), language(request, me)),
                         note=d.get("note", ""))
        return _back(handle, "entregas"), "Entrega registrada; espera la confirmación."

    return await run_action(request, _back(handle, f"c{commitment_id}"), act)


@router.post("/b/{handle}/economy/commitments/{commitment_id}/cancel")
async def cancel(request: Request, handle: str, commitment_id: RowId) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> Done:
        c = handovers.commitment_by_id(s, commitment_id)
        handovers.cancel(request.app.state.ctx.tx(s, me), body_by_handle(s, handle), c.uri,
                         d.get("reason", ""))
        return _back(handle, f"c{commitment_id}"), "Compromiso cancelado."

    return await run_action(request, _back(handle, f"c{commitment_id}"), act)


@router.post("/b/{handle}/economy/deliveries/{event_id}/confirm")
async def confirm(request: Request, handle: str, event_id: RowId) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> Done:
        ev = s.get(EconomicEvent, event_id)
        if ev is None:
            raise Problem(404, "not-found", "no such delivery")
        accept = d.get("accept") == "1"
        handovers.confirm(request.app.state.ctx.tx(s, me), body_by_handle(s, handle),
                          ev.uri, accept)
        return _back(handle, f"e{event_id}"), ("Entrega confirmada." if accept
                                               else "Entrega objetada.")

    return await run_action(request, _back(handle, f"e{event_id}"), act)


@router.post("/b/{handle}/economy/enterprises")
async def new_enterprise(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> Done:
        enterprises.create(request.app.state.ctx.tx(s, me), body_by_handle(s, handle),
                           d.get("slug", "").strip(), d.get("name", ""), d.get("sector", ""))
        return _back(handle, "empresas"), "Empresa registrada."

    return await run_action(request, _back(handle, "empresas"), act)


def _plan_rows(d: dict[str, str], lang: str) -> list[dict[str, Any]]:
    """The form's commitment rows that name a resource and a quantity."""
    rows = []
    for i in range(ROWS):
        if not d.get(f"kind{i}") or not d.get(f"quantity{i}", "").strip():
            continue
        rows.append({"side": d.get(f"side{i}", "inputs"), "action": d.get(f"action{i}"),
                     "provider": d.get(f"provider{i}") or None,
                     "receiver": d.get(f"receiver{i}") or None, "kind": d[f"kind{i}"],
                     "quantity": str(_amount(d[f"quantity{i}"], lang, f"quantity{i}")),
                     "unit": d.get(f"unit{i}", ""), "note": d.get(f"note{i}", "")})
    return rows


def _may_draft(request: Request, me: Member, handle: str) -> Problem | None:
    with open_session(request) as s:
        try:
            b = body_by_handle(s, handle)
        except Problem as exc:
            return exc
        return states.reasons(s, request.app.state.ctx.urls, s.merge(me), b, b)["draft_plan"]


@router.post("/b/{handle}/economy/plans")
async def draft_plan(request: Request, handle: str) -> Response:
    """A plan with one process, from the form's commitment rows (the API takes any
    number of processes). Finding the participants' inboxes may fetch remote bodies:
    done first, on the event loop; recording it is a form action like the others."""
    ctx = request.app.state.ctx
    back = _back(handle, "plan")
    me = await member_of(request)
    if me is None:
        return see_other(f"/login?next={back}")
    prepared: tuple[dict[str, Any], dict[str, str]] | Problem | None
    # Nothing is built or fetched for someone the body would refuse anyway.
    prepared = await asyncio.to_thread(_may_draft, request, me, handle)
    try:
        if prepared is not None:
            raise prepared
        d = await form(request)
        rows = _plan_rows(d, language(request, me))
        process = {"name": d.get("process", "") or d.get("title", ""), "content": "",
                   "inputs": [r for r in rows if r["side"] == "inputs"],
                   "outputs": [r for r in rows if r["side"] == "outputs"]}
        prepared = await operations.prepare_plan(ctx, handle, d.get("title", ""),
                                              d.get("content", ""), [process])
    except Problem as exc:
        prepared = exc

    def act(s: Session, me: Member, d: dict[str, str]) -> Done:
        if prepared is None or isinstance(prepared, Problem):
            raise prepared or Problem(500, "server-error", "the plan was not prepared")
        doc, inboxes = prepared
        row = plans.draft(ctx.tx(s, me), body_by_handle(s, handle), doc, inboxes)
        return _back(handle, f"plan{row.id}"), \
            "Plan conjunto propuesto; cada instancia participante lo decide."

    return await run_action(request, back, act)
