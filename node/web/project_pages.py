"""The project bank in the pages: search the network's records, publish the body's
own, adopt another's. Rules live in node.projects.bank."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlmodel import Session
from starlette.responses import Response

from node.governance.bodies import body_by_handle
from node.governance.members import roles_in
from node.models import LocalActor, Member
from node.projects import bank
from node.web.actions import namer, run_action, show_body
from node.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/b/{handle}/projects")
def projects_page(request: Request, handle: str, q: str = "", sector: str = "") -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        rows = bank.search(s, q[:200], sector[:100])
        counts = bank.adoptions(s, [r.uri for r in rows])
        here = request.app.state.ctx.urls.actor(b.handle)
        return page(request, "projects.html", me, body=b, q=q, sector=sector, here=here,
                    records=[bank.view(r, counts.get(r.uri, 0)) for r in rows],
                    is_facilitator="facilitator" in roles_in(s, me, b),
                    name_of=namer(s, request.app.state.ctx.urls, b))

    return show_body(request, handle, view)


@router.post("/b/{handle}/projects")
async def publish(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> str:
        bank.publish_record(s, request.app.state.ctx.urls, me, body_by_handle(s, handle),
                            d.get("title", ""), d.get("sector", ""),
                            {f: d.get(f, "") for f in bank.FIELDS})
        return f"/b/{handle}/projects"

    return await run_action(request, f"/b/{handle}/projects", act)


@router.post("/b/{handle}/projects/{record_id}/adopt")
async def adopt(request: Request, handle: str, record_id: int) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> str:
        bank.adopt(s, request.app.state.ctx.urls, me, body_by_handle(s, handle), record_id,
                   d.get("note", ""))
        return f"/b/{handle}/projects"

    return await run_action(request, f"/b/{handle}/projects", act)
