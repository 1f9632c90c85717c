"""What discovery needs of HTTP itself, for every answer of its addresses.

- WebFinger (RFC 7033 §5) MUST send `Access-Control-Allow-Origin: *`, errors
  included, and a browser's client asks first with a CORS preflight `OPTIONS`. The
  other public discovery documents (host-meta, NodeInfo) are served the same way.
- `HEAD` of a discovery document or of an actor is its `GET` without the body (FastAPI
  routes answer only the methods they name, so a HEAD would be a 405).

A pure ASGI wrapper outside the app, so the refusals made before any route (a NUL in
the address, 405) carry the header too; other addresses pass straight through.
"""

from __future__ import annotations

import re
from typing import Any

# Public documents anyone may read from a browser, without credentials.
CORS_PATHS = frozenset({"/.well-known/webfinger", "/.well-known/host-meta",
                        "/.well-known/nodeinfo", "/nodeinfo/2.1"})
# GET routes a HEAD is answered for: the discovery documents, the JSON-LD context, an
# actor and its collections (`/actors/x/inbox` has no GET: its HEAD stays a 405).
HEAD_PATHS = re.compile(r"/(?:\.well-known/(?:webfinger|host-meta|nodeinfo)|nodeinfo/2\.1"
                        r"|ns/comuna/v1|@[^/]+|actors/[^/]+"
                        r"(?:/(?:outbox|followers|following|members))?)\Z")
METHODS = "GET, HEAD, OPTIONS"


class Discovery:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        cors = path in CORS_PATHS
        if cors and method == "OPTIONS":
            await preflight(scope, send, METHODS.encode())
            return
        head = method == "HEAD" and HEAD_PATHS.match(path) is not None
        if not cors and not head:
            await self.app(scope, receive, send)
            return
        if head:
            scope = {**scope, "method": "GET"}

        async def answer(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and cors:
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"access-control-allow-origin" for k, _ in headers):
                    headers.append((b"access-control-allow-origin", b"*"))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and head:
                # The GET's headers (its Content-Length too), none of its body.
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, answer)


async def preflight(scope: dict[str, Any], send: Any, methods: bytes) -> None:
    """Answer a CORS preflight for `methods`, any origin and any headers asked: no
    credentials are ever taken where this is used (the origin is `*`)."""
    asked = b""
    for name, value in scope["headers"]:
        if name.lower() == b"access-control-request-headers":
            asked = value
    headers = [(b"allow", methods), (b"access-control-allow-origin", b"*"),
               (b"access-control-allow-methods", methods),
               (b"access-control-max-age", b"86400")]
    if asked:
        headers.append((b"access-control-allow-headers", asked))
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
