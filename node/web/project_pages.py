"""The project bank in the pages: search the network's records, publish the body's
own, adopt another's. Rules live in node.projects.bank (its `available_actions`
says what the page offers); these handlers read forms and say what happened."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.ids import RowId
from node.governance.bodies import body_by_handle
from node.models import LocalActor, Member, ProjectRecord
from node.projects import bank
from node.web.actions import Done, run_action, show_body
from node.web.economy_labels import Namer
from node.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/b/{handle}/projects")
def projects_page(request: Request, handle: str, q: str = "", sector: str = "") -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        urls = request.app.state.ctx.urls
        rows = bank.search(s, q[:200], sector[:100])
        counts = bank.adoptions(s, [r.uri for r in rows])
        origins = [r.adopted_from for r in rows if r.adopted_from]
        titles = dict(s.exec(select(ProjectRecord.uri, ProjectRecord.title).where(
            col(ProjectRecord.uri).in_(origins))).all()) if origins else {}
        records = [{**bank.view(r, counts.get(r.uri, 0)), "published": r.published_at,
                    "offered": bank.available_actions(s, urls, me, b, r),
                    "origin_title": titles.get(r.adopted_from, "")} for r in rows]
        return page(request, "projects.html", me, body=b, q=q, sector=sector,
                    records=records, body_actions=bank.available_actions(s, urls, me, b, b),
                    name_of=Namer(s, urls, [r.author for r in rows]))

    return show_body(request, handle, view)


@router.post("/b/{handle}/projects")
async def publish(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> Done:
        row = bank.publish_record(request.app.state.ctx.tx(s, me),
                                  body_by_handle(s, handle), d.get("title", ""),
                                  d.get("sector", ""), {f: d.get(f, "") for f in bank.FIELDS})
        return f"/b/{handle}/projects#r{row.id}", "Proyecto publicado en el banco."

    return await run_action(request, f"/b/{handle}/projects#publicar", act)


@router.post("/b/{handle}/projects/{record_id}/adopt")
async def adopt(request: Request, handle: str, record_id: RowId) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> Done:
        row = bank.adopt(request.app.state.ctx.tx(s, me), body_by_handle(s, handle),
                         record_id, d.get("note", ""))
        return f"/b/{handle}/projects#r{row.id}", "Proyecto adoptado; quedó en el banco."

    return await run_action(request, f"/b/{handle}/projects#r{record_id}", act)
