"""Refusing JSON nested deeper than any document of ours needs, before it is parsed.

Python's decoder recurses once per level: about a thousand levels raise
RecursionError (a 500 at the inbox, a vague 400 in FastAPI), and anything that
walks a parsed document later (canonicalisation, pydantic, the JSON encoder)
recurses again. No ActivityPub activity or API body of ours comes near 64 levels.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

from starlette.requests import Request

from node.api.problems import Problem, from_problem

MAX_DEPTH = 64
# The API's longest field is 200 000 characters (meeting minutes), up to six bytes each
# as JSON escapes: nothing it takes comes near this.
MAX_BODY = 2 * 1024 * 1024

# A JSON string literal; outside strings every bracket is structure. On invalid JSON
# the decoder stops at its first error, and up to there it reads strings the same way.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """True if `body` opens more than `limit` arrays/objects inside one another."""
    # Cheap common case: fewer openings than the limit cannot nest deeper than it.
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def too_deep_problem(limit: int = MAX_DEPTH) -> Problem:
    return Problem(400, "too-deep", f"JSON nested more than {limit} levels deep")


def _is_json(scope: dict[str, Any]) -> bool:
    for name, value in scope["headers"]:
        if name.lower() == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class JsonDepthMiddleware:
    """Checks JSON request bodies under `prefix` (the JSON API) before the app parses
    them. FastAPI buffers the whole body anyway, so buffering it here costs nothing
    more; the inbox checks its own bodies while enforcing its size limit."""

    def __init__(self, app: Any, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        # Every body under the prefix, JSON or not: FastAPI would buffer it whole too.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away; let the app see it as it would have.
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_BODY:
                await from_problem(Problem(413, "too-large",
                                           f"body larger than {MAX_BODY} bytes"),
                                   Request(scope))(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _is_json(scope) and too_deep(body):
            await from_problem(too_deep_problem(), Request(scope))(scope, receive, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body,
                                        "more_body": False}], receive), send)


def _replay(messages: list[dict[str, Any]], receive: Any) -> Any:
    pending = list(messages)

    async def replay() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        return dict(await receive())

    return replay
