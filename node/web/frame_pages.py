"""What every page's frame needs besides the pages: the icon browsers ask for, and the
language switch for visitors who are not logged in (a plain link: choosing a language
changes nothing but a cookie, so it needs no form, and a page without a form can be
cached)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from node.web.i18n import LANGUAGES

router = APIRouter(include_in_schema=False)

# A small green circle with a white "C": drawn, not a file to ship.
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<circle cx="16" cy="16" r="15" fill="#1e7d32"/>'
    '<path d="M21.5 11.2A7 7 0 1 0 21.5 20.8" fill="none" stroke="#fff" stroke-width="3.4"'
    ' stroke-linecap="round"/></svg>'
)


def icon(request: Request) -> Response:
    return Response(ICON, media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=604800"})


def safe_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") \
        and "\\" not in value else "/"


@router.get("/idioma/{lang}")
def choose_language(request: Request, lang: str, next: str = "/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax",
                            secure=request.url.scheme == "https")
    return response


@router.get("/favicon.ico")
@router.get("/favicon.svg")
def favicon(request: Request) -> Response:
    return icon(request)
