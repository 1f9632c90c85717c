"""gzip for what people and peers read (pages, actor documents, the JSON API), not for
the inbox: its answers are a few bytes, and under a flood every layer counts."""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class Compress:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Level 6: most of level 9's saving on HTML at a fraction of its CPU.
        self.gzip = GZipMiddleware(app, minimum_size=1024, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "POST":
            await self.app(scope, receive, send)
        else:
            await self.gzip(scope, receive, send)
