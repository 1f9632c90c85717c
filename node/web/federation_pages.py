"""Joining a federation and deciding who joins one, from the pages: a body's federation
page names the federations it belongs to (or asked to join) and their answer, the
bodies that belong to it, the requests waiting for its coordinators, and the open
matters with their mandates. The rules live in node.federations.membership."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import or_
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.ids import RowId
from node.api.v1.matters_io import mandate_view
from node.errors import Problem
from node.errors.text import say
from node.federations import escalation, membership
from node.federations.names import names, spokesperson_names
from node.governance import proposals
from node.models import LocalActor, Member, Proposal
from node.models.matters import Mandate
from node.web.actions import member_of, position_labels, run_action, see_other, show_body
from node.web.i18n import translator
from node.web.notices import leave
from node.web.numbers import whole
from node.web.pictures.tree import federation_tree
from node.web.render import language, page
from node.web.session import form

router = APIRouter(include_in_schema=False)

# The Spanish for this area's refusals (unknown-federation, self-join) is in
# node/errors/text.py's catalogue, with every other refusal's.


def join_state_labels(_: Any) -> dict[str, str]:
    return {"pending": _("Solicitud enviada; esperando su respuesta"),
            "accepted": _("Miembro"), "rejected": _("No aceptó la solicitud")}


def _back(handle: str) -> str:
    return f"/b/{handle}/federation"


@router.get("/b/{handle}/federation")
def federation_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        urls = request.app.state.ctx.urls
        _ = translator(language(request, me))
        joined = membership.joined(s, b)
        members = membership.members_of(s, b)
        waiting = membership.waiting_requests(s, b)
        offered = membership.available_actions(s, me, b)
        open_rows = s.exec(select(Proposal).where(
            Proposal.body_id == b.id,
            # A federation's matters, and a member body's matters before its federation.
            or_(col(Proposal.electorate) == "bodies", col(Proposal.answers_to) != ""),
            col(Proposal.state).in_(["deliberation", "vote"]))
            .order_by(col(Proposal.id).desc()).limit(50)).all()
        live_of = {p.id or 0: list(s.exec(select(Mandate).where(
            Mandate.matter == p.matter, Mandate.state == "live")).all()) for p in open_rows}
        matters_here = [{"id": p.id, "title": proposals.version(s, p).title,
                         "version": p.current_version,
                         "mandates": [mandate_view(m) for m in live_of[p.id or 0]]}
                        for p in open_rows]
        mentioned = [x.remote_uri for x in joined] + members + [x.remote_uri for x in waiting]
        for p in open_rows:
            for m in live_of[p.id or 0]:
                mentioned += [m.member_body, *json.loads(m.spokespersons)]
        known = names(s, urls, mentioned, spokesperson_names(
            s, [m.uri for ms in live_of.values() for m in ms]))
        tree = federation_tree(
            b.name, [(known[x.remote_uri], x.state == "accepted") for x in joined
                     if x.state in ("accepted", "pending")],
            [known[u] for u in members], _)
        return page(request, "federation.html", me, body=b, joined=joined, members=members,
                    waiting=[(x, membership.request_actions(s, me, b, x)) for x in waiting]
                    if "decide" in offered else [],
                    can_join="join" in offered, matters=matters_here,
                    names=known, tree=tree,
                    join_states=join_state_labels(_),
                    positions=position_labels(_), json=json)

    return show_body(request, handle, view)


@router.post("/b/{handle}/federation/join")
async def join(request: Request, handle: str) -> Response:
    # Not run_action alone: finding the federation reaches the network, outside any
    # transaction. A refusal still comes back next to the field, with what was typed.
    me = await member_of(request)
    try:
        data = await form(request)
    except Problem as exc:
        return await run_action(request, _back(handle), _raise(exc))
    if me is None:
        return see_other(f"/login?next={_back(handle)}")
    _ = translator(language(request, me))
    try:
        families = data.get("families", "").strip()
        await escalation.join(request.app.state.ctx, me, handle, data.get("federation", ""),
                           whole(families))
    except Problem as exc:
        return await asyncio.to_thread(_refused, request, me, handle, exc, data)
    response = see_other(_back(handle))
    await asyncio.to_thread(_notice, request, response, {
        "ok": _("Solicitud enviada. La federación la decidirá.")})
    return response


def _raise(exc: Problem) -> Any:
    def act(s: Session, me: Member, data: dict[str, str]) -> str:
        raise exc

    return act


def _refused(request: Request, me: Member, handle: str, exc: Problem,
             data: dict[str, str]) -> Response:
    response = see_other(_back(handle))
    _notice(request, response, {
        "error": say(exc, language(request, me)), "field": exc.extra.get("field"),
        "status": exc.status, "code": exc.code,
        "form": {k: v for k, v in data.items() if k != "csrf"}})
    return response


def _notice(request: Request, response: Response, what: dict[str, Any]) -> None:
    with Session(request.app.state.ctx.engine) as s:
        leave(s, request, response, what)
        s.commit()


@router.post("/b/{handle}/federation/requests/{link_id}")
async def decide(request: Request, handle: str, link_id: RowId) -> Response:
    def act(s: Session, me: Member, data: dict[str, str]) -> tuple[str, str]:
        b = s.exec(select(LocalActor).where(LocalActor.handle == handle)).first()
        if b is None:
            raise Problem(404, "not-found", "no such body")
        accept = data.get("answer") == "accept"
        link = membership.decide_member(request.app.state.ctx.tx(s, me), b, link_id, accept)
        who = names(s, request.app.state.ctx.urls, [link.remote_uri])[link.remote_uri]
        _ = translator(language(request, me))
        said = _("Aceptada: %(name)s ya es miembro.") if accept else \
            _("Rechazada la solicitud de %(name)s.")
        return _back(handle), said % {"name": who}

    return await run_action(request, _back(handle), act)
