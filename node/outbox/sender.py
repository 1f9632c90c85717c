"""The HTTP client for deliveries: aiohttp, with the same address guard as fetching.

Deliveries use aiohttp rather than httpx because, measured on our machines,
one httpx client tops out near 140 signed POSTs/s at high concurrency while
aiohttp reaches the RSA-signing bound (docs/benchmarks.md, MEASUREMENTS).
aiohttp itself is loaded by the first `make_session` (`aioclient`), so a node
that has not delivered anything does not hold it in memory.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from node.activitypub.fetch import POOL_IDLE_SECONDS
from node.activitypub.netguard import BlockedAddress, address_allowed

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("comuna.sender")
# Idle connections kept per host after a burst (see aioclient.CappedConnector).
IDLE_PER_HOST = 4


@dataclass
class SendResult:
    status: int | None
    retry_after: str | None
    error: str


def make_session(allow_private: bool, timeout: float, limit: int,
                 idle: float = POOL_IDLE_SECONDS,
                 idle_per_host: int = IDLE_PER_HOST) -> aiohttp.ClientSession:
    """`idle`: seconds after which a pooled connection is not used again (see
    POOL_IDLE_SECONDS); `idle_per_host`: how many idle ones a host keeps.

    aiohttp is imported here, on the first delivery, not when the node starts."""
    from node.outbox import aioclient

    return aioclient.make_session(allow_private, timeout, limit, idle, idle_per_host)


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


async def post(session: aiohttp.ClientSession, url: str, body: bytes,
               headers: dict[str, Any], allow_private: bool) -> SendResult:
    import aiohttp  # loaded by make_session already: a dictionary lookup

    # aiohttp skips the resolver for IP literals, so those are checked here.
    ip = _literal_ip(urlsplit(url).hostname or "")
    if ip is not None and not address_allowed(ip, allow_private):
        return SendResult(None, None, f"BlockedAddress: {ip} is a non-public address")
    for attempt in (1, 2):
        try:
            async with session.post(url, data=body, headers=headers,
                                    allow_redirects=False) as resp:
                await resp.read()
                if resp.status >= 300:
                    log.info("POST %s answered %d (Retry-After %s)", url, resp.status,
                             resp.headers.get("Retry-After"))
                return SendResult(resp.status, resp.headers.get("Retry-After"),
                                  "" if resp.status < 300 else f"HTTP {resp.status}")
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientConnectionResetError) as exc:
            # A pooled connection the peer had just closed (its keep-alive ran out as we
            # reused it): once more on a new one. Inboxes drop a repeated activity id.
            log.info("POST %s: %s on attempt %d", url, type(exc).__name__, attempt)
            if attempt == 2:
                return SendResult(None, None, f"{type(exc).__name__}: {exc}"[:500])
        except (aiohttp.ClientError, OSError, BlockedAddress, ValueError) as exc:
            # Every network failure, a timeout (an OSError), a name that resolves to a
            # non-public address, a URL aiohttp cannot use: all retried later. Kept in
            # the log too: the row's last_error is cleared when a retry succeeds.
            log.info("POST %s failed: %s: %s", url, type(exc).__name__, exc)
            return SendResult(None, None, f"{type(exc).__name__}: {exc}"[:500])
    raise AssertionError("unreachable")
