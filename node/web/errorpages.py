"""Refusals and server errors as a page in the reader's language, for browsers; the
JSON API and ActivityPub keep answering problem+json (in Spanish when the client
asks with Accept-Language).

`install(app, wants_page)` registers every handler; the heavy page machinery is
imported only when a page is drawn (the node starts without it)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any

from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from node.api.problems import from_problem, problem_response
from node.errors import Problem

log = logging.getLogger("comuna.errors")

WantsPage = Callable[[Request], bool]


def problem_page(request: Request, exc: Problem) -> Response:
    from node.web.actions import open_session, refusal
    from node.web.session import current_member

    with open_session(request) as s:
        try:
            me = current_member(request, s)
        except SQLAlchemyError:  # the database itself may be what failed
            me = None
        return refusal(request, me, exc, "/")


def missing_page(request: Request, exc: Problem) -> Response:
    """No page at this address (or another HTTP refusal of the router itself)."""
    from node.errors.text import say
    from node.web.actions import open_session
    from node.web.i18n import translator
    from node.web.render import language, page
    from node.web.session import current_member

    with open_session(request) as s:
        try:
            me = current_member(request, s)
        except SQLAlchemyError:  # the database itself may be what failed
            me = None
        lang = language(request, me)
        _ = translator(lang)
        title = _("Página no encontrada") if exc.status == 404 else _("No se pudo")
        return page(request, "message.html", me, status=exc.status, title=title,
                    detail=say(exc, lang), back="/")


def server_error_page(request: Request, reference: str) -> Response:
    """Drawn without the database (it may be what failed) and without the person's
    session: their language comes from the cookie."""
    from node.errors.text import say
    from node.web.i18n import LANGUAGES, pick, translator
    from node.web.render import PAGE_HEADERS, PRIVATE_CACHE, env

    lang = pick(None, request.cookies.get("lang"))
    _ = translator(lang)
    detail = say(Problem(500, "server-error",
                         "something failed on the server; try again in a moment"), lang)
    html = env.get_template("message.html").render(
        _=_, lang=lang, languages=LANGUAGES, me=None, csrf="", path=request.url.path,
        notice=None, kept=lambda name, default="": default, field_error=lambda name: "",
        title=_("Algo falló"), detail=f"{detail} ({_('referencia')}: {reference})",
        back="/")
    return HTMLResponse(html, status_code=500, headers={
        **PAGE_HEADERS, "Content-Language": lang, "Cache-Control": PRIVATE_CACHE})


def install(app: Any, wants_page: WantsPage) -> None:
    """Every error handler of the app: a browser gets a page in its reader's language,
    anything else problem+json."""
    h = _Handlers(wants_page)
    app.add_exception_handler(Problem, h.on_problem)
    app.add_exception_handler(StaleDataError, h.on_stale)
    app.add_exception_handler(RequestValidationError, h.on_invalid)
    app.add_exception_handler(StarletteHTTPException, h.on_http)
    app.add_exception_handler(404, h.on_not_found)
    # Starlette hands an unexpected exception to this handler (then re-raises it for
    # the server's own log): the person still gets an answer they can read.
    app.add_exception_handler(Exception, h.on_server_error)


def _http_problem(exc: StarletteHTTPException) -> Problem:
    detail = str(exc.detail)
    # Each code with the one status it is registered with (node/errors/codes.py).
    if exc.status_code == 404:
        return Problem(404, "not-found", detail)
    if exc.status_code == 405:
        return Problem(405, "method-not-allowed", detail)
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        # FastAPI's word for a JSON body that is not UTF-8 text.
        return Problem(400, "bad-json", "the body is not valid JSON: not UTF-8 text")
    return Problem(exc.status_code, "http-error", detail)


class _Handlers:
    def __init__(self, wants_page: WantsPage) -> None:
        self.wants_page = wants_page

    async def on_problem(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        if self.wants_page(request):
            return await asyncio.to_thread(problem_page, request, exc)
        return from_problem(exc, request)

    async def on_stale(self, request: Request, exc: Exception) -> Response:
        # Someone changed the same row meanwhile; nothing was written.
        return await self.on_problem(request, Problem(
            409, "changed-meanwhile", "this was changed by someone else meanwhile; try again"))

    async def on_invalid(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "")}
                  for e in exc.errors()]
        if self.wants_page(request):
            # "/p/1." or "/p/abc" from a mistyped or cut link: for a person, a page that
            # is not there (in their language), not the API's English field errors.
            in_path = all(e["loc"][:1] == ["path"] for e in errors)
            return await asyncio.to_thread(missing_page, request, Problem(
                404, "not-found", "nothing here") if in_path else Problem(
                422, "invalid-request", "the request does not fit the API"))
        for e in exc.errors():
            if e.get("type") == "json_invalid":
                why = (e.get("ctx") or {}).get("error", "")
                return problem_response(400, "bad-json",
                                        f"the body is not valid JSON: {why}", request)
            if e.get("loc") == ("body",) and isinstance(e.get("input"), bytes):
                # FastAPI hands the body over unparsed when its Content-Type is
                # missing or not JSON: say that, not that its fields are wrong.
                return problem_response(415, "unsupported-media-type",
                                        "send the body as Content-Type: application/json",
                                        request)
        return problem_response(422, "invalid-request", "the request does not fit the API",
                                request, errors=errors)

    async def on_http(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        p = _http_problem(exc)
        if self.wants_page(request) and exc.status_code >= 400:
            return await asyncio.to_thread(missing_page, request, p)
        response = problem_response(p.status, p.code, p.detail, request)
        if exc.headers:  # 405's Allow
            response.headers.update(exc.headers)
        return response

    async def on_not_found(self, request: Request, exc: Exception) -> Response:
        if self.wants_page(request):
            return await asyncio.to_thread(
                missing_page, request, Problem(404, "not-found", "nothing here"))
        return problem_response(404, "not-found", "nothing here", request)

    async def on_server_error(self, request: Request, exc: Exception) -> Response:
        # The reference is what the person can tell the coordinators; the log line
        # with the same reference has the traceback.
        reference = secrets.token_hex(4)
        log.error("server error %s on %s %s", reference, request.method, request.url.path,
                  exc_info=exc)
        if self.wants_page(request):
            return server_error_page(request, reference)
        return problem_response(500, "server-error",
                                "something failed on the server; try again in a moment",
                                request, reference=reference)
