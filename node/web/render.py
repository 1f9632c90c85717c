"""Rendering a page for the person asking: their language, their CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from node.models import Member
from node.web.i18n import LANGUAGES, pick, translator
from node.web.session import csrf_for_page, set_pre_cookie

env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def language(request: Request, member: Member | None) -> str:
    return pick(member.language if member else None, request.cookies.get("lang"))


def page(request: Request, template: str, member: Member | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    lang = language(request, member)
    csrf, seed = csrf_for_page(request)
    html = env.get_template(template).render(
        _=translator(lang), lang=lang, languages=LANGUAGES, me=member, csrf=csrf,
        path=request.url.path, **context)
    response = HTMLResponse(html, status_code=status,
                            headers={"Content-Language": lang, "Cache-Control": "no-store"})
    if seed:
        set_pre_cookie(request, response, seed)
    return response
