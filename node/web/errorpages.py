"""Refusals and server errors as a page in the reader's language, for browsers (the
JSON API keeps answering problem+json)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from node.errors import Problem
from node.web.actions import open_session, refusal
from node.web.session import current_member


def problem_page(request: Request, exc: Problem) -> Response:
    with open_session(request) as s:
        try:
            me = current_member(request, s)
        except Exception:  # the database itself may be what failed
            me = None
        return refusal(request, me, exc, "/")
