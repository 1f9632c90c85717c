"""Delivery's HTTP client: one signed POST, its answer turned into a `SendResult`.

The connections are the node's HTTP client (`node.activitypub.httpclient`, with the
address guard), a pool of its own for delivery; it replaced aiohttp, which cost 9 MB
of memory for the same throughput (docs/architecture.md, "Our own HTTP client").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from node.activitypub.httpclient import POOL_IDLE_SECONDS, Disconnected, Pool
from node.activitypub.netguard import BlockedAddress

log = logging.getLogger("comuna.sender")
# Idle connections kept per host after a burst (see httpclient.Pool).
IDLE_PER_HOST = 4


@dataclass
class SendResult:
    status: int | None
    retry_after: str | None
    error: str


def make_session(allow_private: bool, timeout: float, limit: int,
                 idle: float = POOL_IDLE_SECONDS,
                 idle_per_host: int = IDLE_PER_HOST) -> Pool:
    """`timeout`: seconds for a whole POST, connecting included; `limit`: connections
    in use at once; `idle`: seconds after which a pooled connection is not used again
    (see POOL_IDLE_SECONDS); `idle_per_host`: how many idle ones a host keeps."""
    return Pool(allow_private, timeout, limit, idle, idle_per_host)


async def post(session: Pool, url: str, body: bytes, headers: dict[str, Any]) -> SendResult:
    """Never raises for the network: every failure is a result, retried later."""
    for attempt in (1, 2):
        try:
            answer = await session.request("POST", url, headers, body)
        except Disconnected as exc:
            # Often a pooled connection the peer had just closed (its keep-alive ran
            # out as we reused it): once more on a new one. Inboxes drop a repeated id.
            log.info("POST %s: Disconnected on attempt %d: %s", url, attempt, exc)
            if attempt == 2:
                return SendResult(None, None, f"Disconnected: {exc}"[:500])
            continue
        except (OSError, BlockedAddress, ValueError) as exc:
            # Every network failure, a timeout (an OSError), a name that resolves to a
            # non-public address, a URL we cannot post to: all retried later. Kept in
            # the log too: the row's last_error is cleared when a retry succeeds.
            log.info("POST %s failed: %s: %s", url, type(exc).__name__, exc)
            return SendResult(None, None, f"{type(exc).__name__}: {exc}"[:500])
        retry_after = answer.headers.get("retry-after")
        if answer.status >= 300:
            log.info("POST %s answered %d (Retry-After %s)", url, answer.status, retry_after)
        return SendResult(answer.status, retry_after,
                          "" if answer.status < 300 else f"HTTP {answer.status}")
    raise AssertionError("unreachable")
