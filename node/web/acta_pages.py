"""Actas: the printable minute of an assembly (`/b/{handle}/meetings/{mid}/acta`) and
of a decision (`/p/{pid}/acta`), each also as a PDF (`…/acta.pdf`, `?paper=letter`
for US Letter; A4 otherwise). Whoever may read the body may read them.

A federated decision is checked again from its signed parts each time its acta is
asked for (keys of remote member bodies may be fetched): an acta states what the
record proves now, not what someone once claimed."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import col, select
from starlette.responses import Response

from node.api.ids import RowId
from node.context import NodeContext
from node.errors import Problem
from node.federations import escalation
from node.governance import bodies
from node.models import LocalActor
from node.records import actas, exports
from node.records.actas import DecisionActa, FederatedCheck
from node.web import timefmt
from node.web.acta_view import Doc, Section, decision_doc, federated_section, meeting_doc
from node.web.actions import open_session, refusal
from node.web.i18n import translator
from node.web.render import PAGE_HEADERS, language, page
from node.web.session import current_member

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
# A federated check waits this long for remote keys before the acta says it could not.
CHECK_SECONDS = 10.0


async def _check(ctx: NodeContext, note: dict[str, Any] | None) -> FederatedCheck | None:
    if note is None:
        return None
    try:
        return await asyncio.wait_for(
            actas.check_federated(note, lambda m: escalation.key_lookup(ctx, m)),
            CHECK_SECONDS)
    except (TimeoutError, Problem, ValueError, KeyError, TypeError) as exc:
        log.warning("acta: the federated decision %s could not be checked: %s",
                    note.get("id"), exc)
        return None


@dataclass
class _Federated:
    """A decision's federated record, if any, with the names the acta gives it."""

    note: dict[str, Any] | None = None
    federation: str = ""
    bodies: dict[str, str] = field(default_factory=dict)


def _federated(request: Request, a: DecisionActa) -> _Federated:
    if a.federated is None:
        return _Federated()
    ctx: NodeContext = request.app.state.ctx
    with open_session(request) as s:
        return _Federated(a.federated, actas.federation_name(s, ctx.urls, a.federated),
                          actas.member_body_names(s, ctx.urls, a.federated))


def _node_name(request: Request) -> str:
    """The node's own body, named in each page's footer."""
    with open_session(request) as s:
        primary = s.exec(select(LocalActor).where(col(LocalActor.is_primary))).first()
        return primary.name if primary else "Comuna"


def _words(request: Request, lang: str) -> tuple[Any, Any, Any, str]:
    tz = request.app.state.ctx.settings.timezone
    _ = translator(lang)

    def when(v: Any) -> str:
        return timefmt.when(v, tz, lang)

    def day(v: Any) -> str:
        return timefmt.day(v, tz)

    return _, when, day, when(request.app.state.ctx.clock.now())


def _answer(request: Request, me: Any, doc: Doc, pdf: bool, back: str, back_label: str
            ) -> Response:
    lang = language(request, me)
    if not pdf:
        return page(request, "acta.html", me, doc=doc, back=back, back_label=back_label,
                    pdf=f"{request.url.path}.pdf")
    from node.web import acta_pdf

    paper = request.query_params.get("paper", "a4")
    data = acta_pdf.render(doc, lang, paper if paper in acta_pdf.PAPER else "a4")
    name = "acta.pdf"
    return Response(data, media_type="application/pdf", headers={
        **PAGE_HEADERS, "Content-Language": lang, "Cache-Control": "private, no-cache",
        "Content-Disposition": f'inline; filename="{name}"'})


async def _decision(request: Request, pid: int, pdf: bool) -> Response:
    ctx: NodeContext = request.app.state.ctx

    def gather() -> tuple[Any, DecisionActa | None, Response | None]:
        with open_session(request) as s:
            me = current_member(request, s)
            try:
                return me, actas.of_proposal(s, ctx.urls, me, pid), None
            except Problem as exc:
                return me, None, refusal(request, me, exc, f"/p/{pid}")

    me, a, refused = await asyncio.to_thread(gather)
    if refused is not None or a is None:
        assert refused is not None
        return refused
    found = await asyncio.to_thread(_federated, request, a)
    check = await _check(ctx, found.note)

    def write() -> Response:
        _, when, day, printed = _words(request, language(request, me))
        fed: Section | None = federated_section(
            _, found.federation, check, found.bodies, a.final, ctx.urls.base,
            a.proposal.id) if found.note else None
        doc = decision_doc(_, when, day, a, fed, _node_name(request), printed)
        return _answer(request, me, doc, pdf, f"/p/{pid}", _("Volver a la propuesta"))

    return await asyncio.to_thread(write)


async def _meeting(request: Request, handle: str, mid: int, pdf: bool) -> Response:
    ctx: NodeContext = request.app.state.ctx

    def gather() -> tuple[Any, actas.MeetingActa | None, Response | None]:
        with open_session(request) as s:
            me = current_member(request, s)
            try:
                b = bodies.body_by_handle(s, handle)
                return me, actas.of_meeting(s, ctx.urls, me, b, mid), None
            except Problem as exc:
                return me, None, refusal(request, me, exc, f"/b/{handle}/meetings")

    me, m, refused = await asyncio.to_thread(gather)
    if refused is not None or m is None:
        assert refused is not None
        return refused
    found: dict[int, _Federated] = {}
    for a in m.decisions:
        found[a.decision.id or 0] = await asyncio.to_thread(_federated, request, a)
    checks = {k: await _check(ctx, f.note) for k, f in found.items() if f.note}

    def write() -> Response:
        _, when, day, printed = _words(request, language(request, me))
        made = {a.decision.id or 0: a for a in m.decisions}
        fed = {k: federated_section(_, f.federation, checks.get(k), f.bodies, made[k].final,
                                    ctx.urls.base, made[k].proposal.id)
               for k, f in found.items() if f.note}
        doc = meeting_doc(_, when, day, m, fed, _node_name(request), printed)
        return _answer(request, me, doc, pdf, f"/b/{handle}/meetings",
                       _("Volver a las asambleas"))

    return await asyncio.to_thread(write)


@router.get("/p/{pid}/acta")
async def decision_acta(request: Request, pid: RowId) -> Response:
    return await _decision(request, pid, pdf=False)


@router.get("/p/{pid}/acta.pdf")
async def decision_acta_pdf(request: Request, pid: RowId) -> Response:
    return await _decision(request, pid, pdf=True)


@router.get("/b/{handle}/meetings/{mid}/acta")
async def meeting_acta(request: Request, handle: str, mid: RowId) -> Response:
    return await _meeting(request, handle, mid, pdf=False)


@router.get("/b/{handle}/meetings/{mid}/acta.pdf")
async def meeting_acta_pdf(request: Request, handle: str, mid: RowId) -> Response:
    return await _meeting(request, handle, mid, pdf=True)


def _export_page(what: str, fmt: str) -> Any:
    def download(request: Request, handle: str) -> Response:
        """The same export as the API's, for the member logged in on the pages."""
        from node.api.v1 import routes_exports

        with open_session(request) as s:
            me = current_member(request, s)
            try:
                return routes_exports.answer(request, s, me, handle, what, fmt,
                                             language(request, me))
            except Problem as exc:
                return refusal(request, me, exc, f"/b/{handle}/decisions")

    return download


# One route per export, so every path names only the body.
for _what in exports.WHAT:
    for _fmt in ("csv", "json"):
        router.add_api_route(f"/b/{{handle}}/exports/{_what}.{_fmt}",
                             _export_page(_what, _fmt), methods=["GET"])
