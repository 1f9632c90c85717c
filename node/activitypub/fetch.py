"""Fetching remote ActivityPub documents with httpx, safely.

Timeouts, a size cap, a bounded number of redirects (each one re-checked) and
the connect-time address guard. GETs are signed with the node's key so servers
that require authorised fetch answer.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from node.activitypub.netguard import BlockedAddress, GuardedBackend, Unresolvable
from node.activitypub.tls import client_context

AP_ACCEPT = (
    'application/activity+json, application/ld+json; '
    'profile="https://www.w3.org/ns/activitystreams"'
)
USER_AGENT = "Comuna/0.1 (+ActivityPub)"

GetSigner = Callable[[str], dict[str, str]]
log = logging.getLogger("comuna.fetch")

# Pooled connections idle longer than this are not used again. Servers close idle
# keep-alive connections on their own schedule (uvicorn, which serves Comuna, after
# 5 s); a request sent on one as the server closes it fails. Letting go first turns
# that race (a failed attempt, then a retry) into a new connection now.
POOL_IDLE_SECONDS = 4.0


class FetchError(Exception):
    """A remote document could not be fetched; `reason` is safe to show to a peer.

    `transient` when trying again later may well succeed (network errors, timeouts,
    429, 5xx); otherwise the answer is the server's word (404, 410, not JSON, ...) or
    our own refusal (a forbidden address), and repeating it changes nothing.
    """

    def __init__(self, url: str, reason: str, status: int | None = None,
                 transient: bool = False, retry_after: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status
        self.transient = transient
        self.retry_after = retry_after  # the server's Retry-After, in seconds, if it said


class _StaleConnection(FetchError):
    pass


def transient_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def retry_after_of(value: str | None) -> int | None:
    """A server's Retry-After in whole seconds (delta or HTTP date), at most an hour, so
    a peer cannot make us pass on a wait of days; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return int(min(max(math.ceil(seconds), 1), 3600))


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, allow_private: bool) -> None:
        # One TLS context for both, the one delivery uses too: httpx would otherwise
        # build its own (about 3 MB) only for this class to replace the pool holding it.
        context = client_context()
        super().__init__(verify=context)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=50,
            max_keepalive_connections=10,
            keepalive_expiry=POOL_IDLE_SECONDS,
            network_backend=GuardedBackend(allow_private),
        )


class _LazyTransport(httpx.AsyncBaseTransport):
    """The guarded transport, made on the first request: its TLS context reads the
    system's certificate store (about 1.6 MB), which a node that fetches nothing
    does not need."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner: _GuardedTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            self._inner = _GuardedTransport(self._allow_private)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


def make_client(allow_private: bool, timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=_LazyTransport(allow_private),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


class Fetcher:
    def __init__(
        self,
        client: httpx.AsyncClient,
        max_bytes: int,
        max_redirects: int,
        signer: GetSigner | None = None,
    ) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.signer = signer

    async def get_json(self, url: str, accept: str = AP_ACCEPT) -> dict[str, Any]:
        try:
            return await self._get_json(url, accept)
        except _StaleConnection as first:
            # A pooled connection the server had just closed as we reused it: once more,
            # on a new connection (a GET can be repeated safely).
            log.info("GET %s: %s; once more", url, first.reason)
            try:
                return await self._get_json(url, accept)
            except _StaleConnection as exc:
                raise FetchError(url, exc.reason, transient=True) from exc

    async def _get_json(self, url: str, accept: str) -> dict[str, Any]:
        for _hop in range(self.max_redirects + 1):
            if urlsplit(url).scheme not in ("http", "https"):
                raise FetchError(url, "only http(s) URLs can be fetched")
            body, redirect = await self._one_hop(url, accept)
            if redirect is None:
                return _json_object(url, body)
            url = redirect
        raise FetchError(url, f"more than {self.max_redirects} redirects")

    async def _one_hop(self, url: str, accept: str) -> tuple[bytes, str | None]:
        """One GET of `url`: its body, or the address a redirect points to."""
        headers = {"Accept": accept}
        if self.signer is not None:
            headers.update(self.signer(url))
        try:
            async with self.client.stream("GET", url, headers=headers) as resp:
                return await self._answer(resp, url)
        except BlockedAddress as exc:
            raise FetchError(url, str(exc)) from exc
        except Unresolvable as exc:
            # Raised by the address guard while httpx dials; httpx passes it through.
            raise FetchError(url, str(exc), transient=not exc.permanent) from exc
        except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
            raise _StaleConnection(url, f"{type(exc).__name__}: {exc}",
                                   transient=True) from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"{type(exc).__name__}: {exc}", transient=True) from exc

    async def _answer(self, resp: httpx.Response, url: str) -> tuple[bytes, str | None]:
        if resp.status_code in (301, 302, 303, 307, 308):
            location = resp.headers.get("location")
            if not location:
                raise FetchError(url, "redirect without Location", resp.status_code)
            return b"", urljoin(url, location)
        if resp.status_code != 200:
            raise FetchError(url, f"answered HTTP {resp.status_code}",
                             resp.status_code, transient_status(resp.status_code),
                             retry_after_of(resp.headers.get("retry-after")))
        return await self._read_capped(resp, url), None

    async def _read_capped(self, resp: httpx.Response, url: str) -> bytes:
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(url, f"response larger than {self.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(url, f"response larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _json_object(url: str, body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise FetchError(url, "response is not JSON") from exc
    if not isinstance(doc, dict):
        raise FetchError(url, "response is not a JSON object")
    return doc
