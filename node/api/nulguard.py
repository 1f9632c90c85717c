"""Refuse a request whose address carries a NUL character, before any route sees it.

PostgreSQL text cannot hold NUL, so a query parameter with one would fail deep in a
query as a server error; request bodies are checked by their schemas
(`api/v1/schemas.py`). A pure ASGI wrapper, so the inbox's path costs one scan of
the query string and no extra task.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from node.api.problems import problem_response


class RefuseNul:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if b"%00" in query or b"\x00" in query or "\x00" in scope.get("path", ""):
                answer = problem_response(400, "nul-character",
                                          "the address must not contain NUL characters",
                                          Request(scope))
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
