"""Honour X-Forwarded-Proto/Host and Forwarded (RFC 7239) from trusted proxies.

Behind a TLS-terminating proxy the node must see the public scheme and host, or
signature checks over `host` / `@target-uri` and generated URLs go wrong.
"""

from __future__ import annotations

from typing import Any

Scope = dict[str, Any]


class ForwardedMiddleware:
    def __init__(self, app: Any, trusted: set[str]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            client = scope.get("client")
            if client and (client[0] in self.trusted or "*" in self.trusted):
                scope = self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope) -> Scope:
        headers = [(k.lower(), v) for k, v in scope["headers"]]
        proto = host = None
        for k, v in headers:
            if k == b"forwarded":
                first = v.decode("latin-1").split(",")[0]
                for pair in first.split(";"):
                    name, _, value = pair.strip().partition("=")
                    value = value.strip('"')
                    if name.lower() == "proto":
                        proto = value
                    elif name.lower() == "host":
                        host = value
            elif k == b"x-forwarded-proto" and proto is None:
                proto = v.decode("latin-1").split(",")[0].strip()
            elif k == b"x-forwarded-host" and host is None:
                host = v.decode("latin-1").split(",")[0].strip()
        if proto is None and host is None:
            return scope
        scope = dict(scope)
        if proto in ("http", "https"):
            scope["scheme"] = proto
        if host:
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"host"]
            scope["headers"].append((b"host", host.encode("latin-1")))
        return scope
