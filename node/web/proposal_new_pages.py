"""Writing a new proposal for a body: its title, its text, and (for a matter that goes
beyond the body) the neighbouring bodies it affects, chosen by name from the
federation graph (node.federations.neighbours)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session
from starlette.responses import Response

from node.federations.names import names
from node.federations.neighbours import MAX_OFFERED, neighbours
from node.governance import bodies, proposals
from node.governance.authz import body_actions
from node.models import LocalActor, Member
from node.web.actions import member_of, open_session, run_action, see_other
from node.web.i18n import translator
from node.web.render import language, page
from node.web.session import current_member

router = APIRouter(include_in_schema=False)

# Each affected body is its own checkbox (`affects-<n>`): the form reader keeps one
# value per name.
PREFIX = "affects-"


def _body(request: Request, handle: str) -> tuple[LocalActor, bool]:
    """The body, and whether the person asking may propose in it."""
    with open_session(request) as s:
        b = bodies.body_by_handle(s, handle)
        return b, "propose" in body_actions(s, current_member(request, s), b)


def _not_yours(request: Request, me: Member, b: LocalActor) -> Response:
    _ = translator(language(request, me))
    return page(request, "message.html", me, status=403, title=_("No se pudo"),
                detail=_("Solo las y los integrantes de esta instancia hacen propuestas "
                         "en ella."), back=f"/b/{b.handle}")


def _render(request: Request, handle: str, offered: list[str]) -> Response:
    with open_session(request) as s:
        me = current_member(request, s)
        b = bodies.body_by_handle(s, handle)
        known = names(s, request.app.state.ctx.urls, offered)
        choices = sorted(((u, known[u]) for u in offered), key=lambda x: x[1].casefold())
        return page(request, "proposal_new.html", me, body=b, neighbours=choices,
                    prefix=PREFIX)


@router.get("/b/{handle}/proposals/new")
async def new_proposal_page(request: Request, handle: str) -> Response:
    me = await member_of(request)
    if me is None:
        return see_other(f"/login?next=/b/{handle}/proposals/new")
    b, may = await asyncio.to_thread(_body, request, handle)
    if not may:  # the form is offered only to who may use it
        return await asyncio.to_thread(_not_yours, request, me, b)
    # The graph may take a moment to read (remote lists, documents); never on the
    # database's thread, and bounded (neighbours.WAIT_SECONDS).
    offered = await neighbours(request.app.state.ctx, b)
    return await asyncio.to_thread(_render, request, handle, offered)


def chosen(data: dict[str, str]) -> list[str]:
    """The affected bodies ticked in the form (actor URIs)."""
    picked = [v.strip() for k, v in sorted(data.items()) if k.startswith(PREFIX)]
    return [u for u in dict.fromkeys(picked) if u.startswith(("http://", "https://"))
            and len(u) <= 2048][:MAX_OFFERED]


@router.post("/b/{handle}/proposals")
async def create_proposal(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, data: dict[str, str]) -> Any:
        b = bodies.body_by_handle(s, handle)
        p = proposals.create(request.app.state.ctx.tx(s, me), b, data.get("title", ""),
                             data.get("text", ""),
                             affects=chosen(data),
                             own_uri=request.app.state.ctx.urls.actor(b.handle))
        return f"/p/{p.id}", ("Propuesta guardada como borrador: revísela y, cuando esté "
                              "lista, abra la deliberación.")

    return await run_action(request, f"/b/{handle}/proposals/new", act)
