"""Cross-origin reading and writing of the JSON API, for custom clients in a browser (a
radio station's dashboard, a web app served from elsewhere).

The API authenticates only with `Authorization: Bearer` (never a cookie), so a page of
another origin can do nothing a token it holds would not let it do: every origin is
allowed (`*`), without credentials, which browsers then refuse to attach. The pages, the
inbox and the admin API (no browser elsewhere needs the node's own token) pass straight
through.
"""

from __future__ import annotations

from typing import Any

from node.api.discovery import preflight

PREFIX = "/api/v1/"
ADMIN = "/api/v1/admin/"
METHODS = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
# Headers a client may need to read from an answer (a fetch() sees only simple ones).
EXPOSED = b"ETag, Location, Retry-After, WWW-Authenticate, Content-Language, Link"


class ApiCors:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX) or path.startswith(ADMIN):
            await self.app(scope, receive, send)
            return
        origin = any(name.lower() == b"origin" for name, _ in scope["headers"])
        if scope["method"] == "OPTIONS" and origin:
            await preflight(scope, send, METHODS)
            return
        if not origin:
            await self.app(scope, receive, send)
            return

        async def answer(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", [])
                           if h[0].lower() != b"access-control-allow-origin"]
                headers += [(b"access-control-allow-origin", b"*"),
                            (b"access-control-expose-headers", EXPOSED)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, answer)
