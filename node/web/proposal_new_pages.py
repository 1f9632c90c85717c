"""Writing a new proposal for a body: its title, its text, and (for a matter that goes
beyond the body) the neighbouring bodies it affects, chosen by name."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlmodel import Session
from starlette.responses import Response

from node.governance import bodies, proposals
from node.models import Member
from node.web.actions import open_session, run_action, see_other
from node.web.render import page
from node.web.session import current_member

router = APIRouter(include_in_schema=False)


@router.get("/b/{handle}/proposals/new")
def new_proposal_page(request: Request, handle: str) -> Response:
    with open_session(request) as s:
        me = current_member(request, s)
        if me is None:
            return see_other(f"/login?next=/b/{handle}/proposals/new")
        b = bodies.body_by_handle(s, handle)
        return page(request, "proposal_new.html", me, body=b)


@router.post("/b/{handle}/proposals")
async def create_proposal(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, data: dict[str, str]) -> str:
        b = bodies.body_by_handle(s, handle)
        p = proposals.create(s, me, b, data.get("title", ""), data.get("text", ""),
                             own_uri=request.app.state.ctx.urls.actor(b.handle))
        return f"/p/{p.id}"

    return await run_action(request, f"/b/{handle}/proposals/new", act)
