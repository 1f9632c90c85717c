"""The aiohttp half of the delivery client, imported on the first delivery.

aiohttp (with multidict, yarl, frozenlist and its TLS context) costs about 9 MB
of resident memory; a node that has nothing to deliver need not carry it.
`node.outbox.sender` imports this module only when a session is made, so nothing
else should import it at module level.
"""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from node.activitypub.netguard import resolve_checked

USER_AGENT = "Comuna/0.1 (+ActivityPub)"


class GuardedResolver(AbstractResolver):
    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        addrs = await resolve_checked(host, port, self.allow_private)
        out: list[ResolveResult] = []
        for addr in addrs:
            fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
            out.append(ResolveResult(hostname=host, host=addr, port=port, family=fam,
                                     proto=0, flags=socket.AI_NUMERICHOST))
        return out

    async def close(self) -> None:
        return None


class CappedConnector(aiohttp.TCPConnector):
    """Keeps at most `idle_per_host` idle connections to one host.

    aiohttp's `limit` counts only connections in use, so after a fan-out every
    connection that was ever busy at once stays open until its keep-alive runs out
    (up to `delivery_per_host` per host, for every host of the burst). A connection
    that finds enough idle ones to its host already is closed instead of pooled: a
    steady stream to a host still reuses its connections, and a burst leaves a few.
    Overrides `_release`, aiohttp's one place where a connection goes back to its
    pool (pinned version; tests/test_sender_pool.py checks the count).
    """

    def __init__(self, *args: Any, idle_per_host: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle_per_host = idle_per_host

    def _release(self, key: Any, protocol: Any, *, should_close: bool = False) -> None:
        idle = self._conns.get(key)
        if idle is not None and len(idle) >= self.idle_per_host:
            should_close = True
        super()._release(key, protocol, should_close=should_close)


def make_session(allow_private: bool, timeout: float, limit: int, idle: float,
                 idle_per_host: int) -> aiohttp.ClientSession:
    connector = CappedConnector(
        resolver=GuardedResolver(allow_private), limit=limit, limit_per_host=0,
        ttl_dns_cache=60, keepalive_timeout=idle, idle_per_host=idle_per_host,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout),
        headers={"User-Agent": USER_AGENT},
    )
