"""RFC 9457 problem details, used by every JSON endpoint of the node.

`detail` is English (stable, what scripts match on) unless the request asks for
Spanish with `Accept-Language`: then it is the sentence people read on the pages,
so a custom client can show it as is. Either way `Content-Language` says which, and
`Vary: Accept-Language` tells caches the text depends on it.

A 401 names how to authenticate (RFC 9110 §15.5.2): `Bearer` for the JSON API's
tokens (RFC 6750), `Signature` for the inbox's HTTP signatures."""

from __future__ import annotations

import json
import math
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from node.errors import Problem, check_code

__all__ = ["Problem", "challenge", "detail_language", "from_problem", "problem_response"]

PROBLEM_TYPE_BASE = "https://w3id.org/comuna/problems#"
# Languages a detail can be given in besides the English default.
TRANSLATED = ("es",)
# The status phrases of RFC 9110 where Python's (3.11) are the older RFC 7231 ones.
TITLES = {413: "Content Too Large", 416: "Range Not Satisfiable",
          422: "Unprocessable Content"}
REALM = "comuna"
# The inbox's refusals of an HTTP signature: draft-cavage's challenge, naming what a
# signature must cover there (node/activitypub/httpsig/prepare.py).
SIGNATURE_CODES = ("bad-signature", "wrong-authority", "unknown-signer")
SIGNATURE_CHALLENGE = f'Signature realm="{REALM}", headers="(request-target) host date digest"'


def challenge(code: str) -> str:
    """The WWW-Authenticate value of a 401 with this code."""
    if code in SIGNATURE_CODES:
        return SIGNATURE_CHALLENGE
    if code == "bad-token":  # RFC 6750 §3.1: a token was sent and is not good
        return f'Bearer realm="{REALM}", error="invalid_token"'
    return f'Bearer realm="{REALM}"'


def title(status: int) -> str:
    return TITLES.get(status) or HTTPStatus(status).phrase


def detail_language(request: Request | None) -> str | None:
    """The language asked for by `Accept-Language`, if it is one a detail is
    translated into and the client prefers it to English; None for English."""
    if request is None:
        return None
    wanted: list[tuple[float, int, str]] = []
    for i, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang and q > 0:
            wanted.append((-q, i, lang))
    for _, _, lang in sorted(wanted):
        if lang in TRANSLATED:
            return lang
        if lang in ("en", "*"):
            return None
    return None


def problem_response(status: int, code: str, detail: str, request: Request | None = None,
                     **extra: Any) -> Response:
    check_code(status, code)  # what is answered is registered, however it was made
    lang = detail_language(request)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = challenge(code)
    wait = extra.get("retry_after")
    if isinstance(wait, int | float) and not isinstance(wait, bool):
        # A refusal that passes: clients and proxies read when to try again here.
        headers["Retry-After"] = str(max(0, math.ceil(wait)))
    if lang is not None:
        # Imported only when asked: most API clients read the English detail.
        from node.errors.text import say_parts

        detail = say_parts(status, code, detail, lang)
    if request is not None:
        # The detail depends on Accept-Language whichever language was chosen: a
        # shared cache must not give one client's English to another's Spanish.
        headers |= {"Content-Language": lang or "en", "Vary": "Accept-Language"}
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title(status),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return Response(json.dumps(body), status_code=status, headers=headers,
                    media_type="application/problem+json")


def from_problem(p: Problem, request: Request | None = None) -> Response:
    return problem_response(p.status, p.code, p.detail, request, **p.extra)
