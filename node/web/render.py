"""Rendering a page for the person asking: their language, their CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from node.models import Member
from node.web import timefmt
from node.web.i18n import LANGUAGES, pick, translator
from node.web.notices import COOKIE as NOTICE_COOKIE
from node.web.notices import take
from node.web.session import csrf_for_page, set_pre_cookie

env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


# Pages run no script at all, so none may run: an injected <script> or on* attribute
# does nothing even if escaping ever fails. Styles: base.html has a <style> block and a
# few templates use style="" attributes, hence 'unsafe-inline' for styles only (with
# nothing else loadable from elsewhere, injected CSS cannot send anything out).
# frame-ancestors 'none' is X-Frame-Options: DENY for current browsers (clickjacking on
# vote and decision forms); the header itself is kept for older ones.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Invitation links carry their token in the path; never hand it to another site.
    "Referrer-Policy": "same-origin",
}
# A page with nothing personal in it (no session, no form) may be kept a minute by the
# browser and by caches on a slow link; anything else is checked again each time.
PUBLIC_CACHE = "public, max-age=60"
PRIVATE_CACHE = "private, no-cache"


class LazyCsrf:
    """The CSRF token, made only if the template puts it in a form: a page without a
    form then sets no cookie and can be cached."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.used = False
        self.seed: str | None = None
        self._value = ""

    def __str__(self) -> str:
        if not self.used:
            self.used = True
            self._value, self.seed = csrf_for_page(self.request)
        return self._value

    def __html__(self) -> str:
        return str(self)


def language(request: Request, member: Member | None) -> str:
    return pick(member.language if member else None, request.cookies.get("lang"))


def _notice(request: Request) -> dict[str, Any] | None:
    if not request.cookies.get(NOTICE_COOKIE):
        return None
    from sqlmodel import Session

    with Session(request.app.state.ctx.engine) as s:
        return take(s, request)


def page(request: Request, template: str, member: Member | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    """Render a page for `member` in their language and the node's time zone, with
    the notice the last form left (a confirmation, or a refusal and what was typed:
    `kept(name, default)` gives a field its value back)."""
    lang = language(request, member)
    csrf = LazyCsrf(request)
    tz = request.app.state.ctx.settings.timezone
    notice = _notice(request)
    typed: dict[str, str] = (notice or {}).get("form") or {}

    def kept(name: str, default: Any = "") -> Any:
        return typed.get(name, default)

    def field_error(name: str) -> str:
        return str(notice["error"]) if notice and notice.get("field") == name else ""

    html = env.get_template(template).render(
        _=translator(lang), lang=lang, languages=LANGUAGES, me=member, csrf=csrf,
        path=request.url.path, notice=notice, kept=kept, field_error=field_error,
        when=lambda v: timefmt.when(v, tz, lang), day=lambda v: timefmt.day(v, tz),
        time_field=lambda v: timefmt.field_value(v, tz), time_example=timefmt.EXAMPLE,
        **context)
    personal = member is not None or csrf.used or notice is not None
    response = HTMLResponse(html, status_code=status, headers={
        "Content-Language": lang, **PAGE_HEADERS,
        "Cache-Control": PRIVATE_CACHE if personal or status >= 400 else PUBLIC_CACHE,
        "Vary": "Cookie"})
    if csrf.seed:
        set_pre_cookie(request, response, csrf.seed)
    if notice is not None:
        response.delete_cookie(NOTICE_COOKIE)
    return response
