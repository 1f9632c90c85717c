"""HTML pages. Plain, light, readable on a small phone and without JavaScript."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func
from sqlmodel import Session, select
from starlette.responses import HTMLResponse, Response

from node.models import Follower, LocalActor, OutboxItem

router = APIRouter()
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
LEVEL_NAMES = {
    "commune": "Comuna",
    "city": "Ciudad comunal",
    "territory": "Territorio comunal",
    "nation": "Federación nacional",
    "thematic": "Federación temática",
}


def render(name: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**context),
                        headers={"Vary": "Accept", "Content-Language": "es"})


def render_profile(request: Request, ctx: Any, body: LocalActor) -> Response:
    with Session(ctx.engine) as s:
        n_followers = s.exec(select(func.count()).select_from(Follower)
                             .where(Follower.actor_id == body.id)).one()
        items = s.exec(select(OutboxItem).where(
            OutboxItem.actor_id == body.id, OutboxItem.public == True,  # noqa: E712
            OutboxItem.activity_type == "Create",
        ).order_by(OutboxItem.id.desc()).limit(20)).all()  # type: ignore[union-attr]
    notes = []
    for item in items:
        obj = json.loads(item.body).get("object", {})
        notes.append({"content": obj.get("content", ""), "published": obj.get("published", ""),
                      "id": obj.get("id", "")})
    return render(
        "profile.html",
        body=body,
        level=LEVEL_NAMES.get(body.level, body.level),
        address=f"@{body.handle}@{ctx.settings.host}",
        actor_url=ctx.urls.actor(body.handle),
        followers=int(n_followers),
        notes=notes,
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    ctx = request.app.state.ctx
    return render_profile(request, ctx, ctx.primary)
