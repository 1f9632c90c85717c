"""The public profile page (also what a browser gets at an actor's URL)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.models import Follower, LocalActor, OutboxItem
from node.web.render import page
from node.web.session import current_member

router = APIRouter(include_in_schema=False)
LEVEL_NAMES = {
    "commune": "Comuna",
    "city": "Ciudad comunal",
    "territory": "Territorio comunal",
    "nation": "Federación nacional",
    "thematic": "Federación temática",
}


def render_profile(request: Request, ctx: Any, body: LocalActor) -> Response:
    with Session(ctx.engine) as s:
        me = current_member(request, s)
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
        level=LEVEL_NAMES.get(body.level, body.level),
        address=f"@{body.handle}@{ctx.settings.host}",
        actor_url=ctx.urls.actor(body.handle),
        followers=int(n_followers),
        notes=notes,
    )
    response.headers["Vary"] = "Accept, Cookie"
    return response


@router.get("/")
def home(request: Request) -> Response:
    ctx = request.app.state.ctx
    return render_profile(request, ctx, ctx.primary)
