"""Assemblies called ahead: the form a body's coordination fills in to call one (day
and time as people write them, place, agenda picked from the open proposals), the
assembly's page (where it is, what it takes up; change or cancel it), and the body's
calendar feed for phones. The rules live in node.governance.assemblies."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from sqlmodel import Session
from starlette.responses import Response

from node.api.ids import RowId
from node.api.v1.views import proposal_view
from node.errors import Problem, invalid, not_found
from node.governance import assemblies, bodies
from node.governance.assemblies import Plan
from node.governance.authz import require_facilitator
from node.models import Assembly, LocalActor, Member, Proposal
from node.models.base import aware
from node.web import timefmt
from node.web.actions import Action, Done, open_session, refusal, run_action, see_other, show_body
from node.web.render import page
from node.web.session import current_member

router = APIRouter(include_in_schema=False)

# How far back the calendar feed reaches: recent assemblies stay in people's calendars.
FEED_PAST = timedelta(days=180)


def _typed(text: str, tz: str, field: str) -> datetime:
    try:
        return timefmt.parse(text, tz, field=field)
    except OverflowError as exc:  # 31/12/9999 11:00 p. m. has no UTC
        raise invalid("far-assembly", "an assembly is called at most three years ahead",
                      field=field) from exc


def _candidates(s: Session, b: LocalActor, a: Assembly | None) -> list[Proposal]:
    """What the form offers for the agenda: for a change, what is on it already, in its
    order (a matter decided meanwhile stays, as the domain allows), then the body's
    other open matters."""
    found = assemblies.open_matters(s, b)
    if a is None:
        return found
    ahead: list[Proposal] = []
    for pid in assemblies.agenda_ids(a):
        p = s.get(Proposal, pid)
        if p is not None and p.body_id == b.id:
            ahead.append(p)
    have = {p.id for p in ahead}
    return ahead + [p for p in found if p.id not in have]


def plan_from(request: Request, s: Session, b: LocalActor, data: dict[str, str],
              a: Assembly | None = None) -> Plan:
    """What the form says, as the domain reads it; times typed in the node's zone."""
    tz = request.app.state.ctx.settings.timezone
    starts = _typed(data.get("starts_at", ""), tz, "starts_at")
    raw_end = data.get("ends_at", "").strip()
    ends = _typed(raw_end, tz, "ends_at") if raw_end else None
    agenda = tuple(p.id for p in _candidates(s, b, a)
                   if p.id is not None and data.get(f"agenda-{p.id}") == "1")
    return Plan(starts_at=starts, ends_at=ends, place=data.get("place", "")[:300],
                address=data.get("address", "")[:500], title=data.get("title", "")[:300],
                description=data.get("description", "")[:20_000], agenda=agenda)


def _matters(s: Session, b: LocalActor, now: datetime,
             a: Assembly | None = None) -> list[dict[str, object]]:
    return [proposal_view(s, p, now) for p in _candidates(s, b, a)]


@router.get("/b/{handle}/assemblies/new")
def new_assembly_page(request: Request, handle: str) -> Response:
    with open_session(request) as s:
        me = current_member(request, s)
        if me is None:
            return see_other(f"/login?next=/b/{handle}/assemblies/new")
        try:
            b = bodies.body_by_handle(s, handle)
            require_facilitator(s, me, b)
        except Problem as exc:
            return refusal(request, me, exc, f"/b/{handle}")
        matters = _matters(s, b, request.app.state.ctx.clock.now())
        return page(request, "assembly_new.html", me, body=b, matters=matters,
                    a=None, chosen=[], starts=None, ends=None)


@router.post("/b/{handle}/assemblies")
async def schedule_assembly(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, data: dict[str, str]) -> Done:
        b = bodies.body_by_handle(s, handle)
        ctx = request.app.state.ctx
        a = assemblies.schedule(ctx.tx(s, me), b, plan_from(request, s, b, data),
                                ctx.settings.timezone)
        return f"/b/{handle}/assemblies/{a.id}", "Asamblea convocada."

    return await run_action(request, f"/b/{handle}/assemblies/new", act)


@router.get("/b/{handle}/assemblies/{assembly_id}")
def assembly_page(request: Request, handle: str, assembly_id: RowId) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        try:
            a = assemblies.by_id(s, b, assembly_id)
        except Problem as exc:
            return refusal(request, me, exc, f"/b/{handle}")
        now = request.app.state.ctx.clock.now()
        actions = assemblies.available_actions(s, me, a, now)
        return page(request, "assembly.html", me, body=b, a=a,
                    starts=aware(a.starts_at),
                    ends=aware(a.ends_at) if a.ends_at is not None else None,
                    titles=assemblies.agenda_titles(s, a), actions=actions,
                    matters=_matters(s, b, now, a) if "change" in actions else [],
                    chosen=assemblies.agenda_ids(a))

    return show_body(request, handle, view)


def _assembly_action(request: Request, handle: str, assembly_id: int, change: bool) -> Action:
    def act(s: Session, me: Member, data: dict[str, str]) -> Done:
        b = bodies.body_by_handle(s, handle)
        a = assemblies.by_id(s, b, assembly_id)
        tx = request.app.state.ctx.tx(s, me)
        if change:
            assemblies.change(tx, a, plan_from(request, s, b, data, a))
            return f"/b/{handle}/assemblies/{assembly_id}", "Convocatoria cambiada."
        assemblies.cancel(tx, a, data.get("note", "")[:2000])
        return f"/b/{handle}/assemblies/{assembly_id}", "Asamblea cancelada."

    return act


@router.post("/b/{handle}/assemblies/{assembly_id}")
async def change_assembly(request: Request, handle: str, assembly_id: RowId) -> Response:
    back = f"/b/{handle}/assemblies/{assembly_id}"
    return await run_action(request, back,
                            _assembly_action(request, handle, assembly_id, True))


@router.post("/b/{handle}/assemblies/{assembly_id}/cancel")
async def cancel_assembly(request: Request, handle: str, assembly_id: RowId) -> Response:
    back = f"/b/{handle}/assemblies/{assembly_id}"
    return await run_action(request, back,
                            _assembly_action(request, handle, assembly_id, False))


@router.get("/b/{handle}/calendar.ics")
def calendar_feed(request: Request, handle: str) -> Response:
    """The body's assemblies for phone calendars (public bodies only: a calendar app
    subscribes without logging in)."""
    from node.web import calendar_feed as ics

    ctx = request.app.state.ctx
    with open_session(request) as s:
        b = bodies.body_by_handle(s, handle)
        if not b.public:
            raise not_found("body")
        since = ctx.clock.now() - FEED_PAST
        rows: list[tuple[Assembly, list[tuple[int, str]]]] = [
            (a, assemblies.agenda_titles(s, a)) for a in assemblies.for_calendar(s, b, since)]
        data = ics.feed(ctx.urls, b, ctx.settings.timezone, rows)
    tag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": "public, max-age=300",
               "Content-Disposition": f'inline; filename="{b.handle}.ics"'}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="text/calendar; charset=utf-8", headers=headers)
