"""The public profile page (also what a browser gets at an actor's URL)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.responses import RedirectResponse, Response

from node import pending
from node.governance import authz
from node.models import Follower, LocalActor, Membership, OutboxItem
from node.web.admin_pages import pending_labels
from node.web.i18n import translator
from node.web.render import language, page
from node.web.session import current_member

router = APIRouter(include_in_schema=False)


def level_names(_: Any) -> dict[str, str]:
    return {"commune": _("Comuna"), "city": _("Ciudad comunal"),
            "territory": _("Territorio comunal"), "nation": _("Federación nacional"),
            "thematic": _("Federación temática")}


def render_profile(request: Request, ctx: Any, body: LocalActor) -> Response:
    with Session(ctx.engine) as s:
        me = current_member(request, s)
        # The copy a process holds may predate a rename made in the pages.
        body = s.get(LocalActor, body.id) or body
        # A private body's page looks missing to those outside it, as its other pages.
        authz.require_read(s, me, body)
        n_followers = s.exec(select(func.count()).select_from(Follower)
                             .where(Follower.actor_id == body.id)).one()
        items = s.exec(select(OutboxItem).where(
            OutboxItem.actor_id == body.id, OutboxItem.public == True,  # noqa: E712
            OutboxItem.activity_type == "Create",
        ).order_by(col(OutboxItem.id).desc()).limit(20)).all()
    notes = []
    for item in items:
        obj = json.loads(item.body).get("object", {})
        notes.append({"content": obj.get("content", ""), "published": obj.get("published", ""),
                      "id": obj.get("id", "")})
    response = page(
        request, "profile.html", me,
        body=body,
        level=level_names(translator(language(request, me))).get(body.level, ""),
        address=f"@{body.handle}@{ctx.settings.host}",
        actor_url=ctx.urls.actor(body.handle),
        followers=int(n_followers),
        notes=notes,
    )
    response.headers["Vary"] = "Accept, Cookie"
    return response


def render_object(request: Request, ctx: Any, doc: dict[str, Any]) -> Response:
    """A public notice of this node, for a person who followed its link from another
    server: the text, when, and the body that published it (by name, linked)."""
    author = str(doc.get("attributedTo", ""))
    handle = ctx.urls.handle_of_actor(author) or ""
    with Session(ctx.engine) as s:
        me = current_member(request, s)
        body = s.exec(select(LocalActor).where(LocalActor.handle == handle)).first()
    response = page(request, "notice.html", me, body=body, profile=author,
                    title=str(doc.get("name") or ""),
                    # Made by this node from escaped text (outbox.publish), never taken in.
                    content=str(doc.get("content", "")),
                    published=str(doc.get("published", "")))
    response.headers["Vary"] = "Accept, Cookie"
    return response


@router.get("/")
def home(request: Request) -> Response:
    ctx = request.app.state.ctx
    with Session(ctx.engine) as s:
        me = current_member(request, s)
        own = pending.home_body(s, me) if me is not None else None
    if own is not None:
        # A member's home is their own commune, with what waits for them; the public
        # profile stays one link away.
        response: Response = RedirectResponse(f"/b/{own.handle}", status_code=303)
        response.headers["Vary"] = "Cookie"
        response.headers["Cache-Control"] = "no-store"
        return response
    return render_profile(request, ctx, ctx.primary)


@router.get("/inicio")
def start(request: Request) -> Response:
    """What waits for the logged-in member across their bodies, and those bodies."""
    ctx = request.app.state.ctx
    with Session(ctx.engine) as s:
        me = current_member(request, s)
        if me is None:
            return RedirectResponse("/login?next=/inicio", status_code=303)
        _ = translator(language(request, me))
        mine = s.exec(select(LocalActor).join(
            Membership, col(Membership.body_id) == col(LocalActor.id)).where(
            Membership.member_id == me.id, Membership.role == "member")
            .order_by(col(LocalActor.id))).all()
        return page(request, "home.html", me, pending=pending.for_member(ctx.tx(s, me)),
                    pending_words=pending_labels(_), bodies=mine)
