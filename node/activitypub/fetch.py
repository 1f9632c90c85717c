"""Fetching remote ActivityPub documents, safely, with the node's HTTP client
(`httpclient`).

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

from node.activitypub.hosts import host_key
from node.activitypub.httpclient import POOL_IDLE_SECONDS, Answer, Disconnected, Pool
from node.activitypub.netguard import BlockedAddress, Unresolvable

AP_ACCEPT = (
    'application/activity+json, application/ld+json; '
    'profile="https://www.w3.org/ns/activitystreams"'
)

GetSigner = Callable[[str], dict[str, str]]
log = logging.getLogger("comuna.fetch")


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


def make_client(allow_private: bool, timeout: float) -> Pool:
    """The fetcher's connections: a pool of their own (delivery has another), at most
    50 in use and 2 idle per host. `timeout` covers a whole GET, connecting included."""
    return Pool(allow_private, timeout, limit=50, idle=POOL_IDLE_SECONDS, idle_per_host=2)


class Fetcher:
    def __init__(
        self,
        client: Pool,
        max_bytes: int,
        max_redirects: int,
        signer: GetSigner | None = None,
        blocked: Callable[[str], bool] | None = None,
    ) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.signer = signer
        # Whether a host (host:port as `host_key` writes it) is blocked on this node:
        # nothing is fetched from it, not even at the end of a redirect.
        self.blocked = blocked

    async def get_json(self, url: str, accept: str = AP_ACCEPT,
                       same_host: bool = False) -> dict[str, Any]:
        """The JSON object at `url`. With `same_host`, a redirect may not leave the
        host: a document fetched to learn what `url` says (an actor, a collection)
        must come from `url`'s own host, or an open redirect there would let another
        host's document, naming `url` as its id, speak for it."""
        try:
            return await self._get_json(url, accept, same_host)
        except _StaleConnection as first:
            # A pooled connection the server had just closed as we reused it: once more,
            # on a new connection (a GET can be repeated safely).
            log.info("GET %s: %s; once more", url, first.reason)
            try:
                return await self._get_json(url, accept, same_host)
            except _StaleConnection as exc:
                raise FetchError(url, exc.reason, transient=True) from exc

    async def _get_json(self, url: str, accept: str, same_host: bool) -> dict[str, Any]:
        first = None
        for _hop in range(self.max_redirects + 1):
            try:
                scheme = urlsplit(url).scheme
            except ValueError as exc:  # e.g. a redirect to "http://[not-an-address]/"
                raise FetchError(url, f"not a URL: {exc}") from exc
            if scheme not in ("http", "https"):
                raise FetchError(url, "only http(s) URLs can be fetched")
            host = host_key(url)
            first = first or host
            if same_host and host != first:
                raise FetchError(url, f"redirected from {first} to another host")
            if self.blocked is not None and self.blocked(host):
                raise FetchError(url, f"{host} is blocked on this node")
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
            answer = await self.client.request("GET", url, headers,
                                               max_body=self.max_bytes)
        except BlockedAddress as exc:
            raise FetchError(url, str(exc)) from exc
        except Unresolvable as exc:
            raise FetchError(url, str(exc), transient=not exc.permanent) from exc
        except Disconnected as exc:
            raise _StaleConnection(url, f"{type(exc).__name__}: {exc}",
                                   transient=True) from exc
        except ValueError as exc:  # a URL or header that cannot be sent
            raise FetchError(url, f"{type(exc).__name__}: {exc}") from exc
        except OSError as exc:  # refused, reset, unreadable, the timeout
            raise FetchError(url, f"{type(exc).__name__}: {exc}", transient=True) from exc
        return self._answer(answer, url)

    def _answer(self, answer: Answer, url: str) -> tuple[bytes, str | None]:
        if answer.status in (301, 302, 303, 307, 308):
            location = answer.headers.get("location")
            if not location:
                raise FetchError(url, "redirect without Location", answer.status)
            try:
                return b"", urljoin(url, location)
            except ValueError as exc:
                raise FetchError(url, f"redirect to something not a URL: {exc}",
                                 answer.status) from exc
        if answer.status != 200:
            raise FetchError(url, f"answered HTTP {answer.status}",
                             answer.status, transient_status(answer.status),
                             retry_after_of(answer.headers.get("retry-after")))
        if answer.too_long:
            raise FetchError(url, f"response larger than {self.max_bytes} bytes")
        return answer.body, None


def _json_object(url: str, body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise FetchError(url, "response is not JSON") from exc
    if not isinstance(doc, dict):
        raise FetchError(url, "response is not a JSON object")
    return doc
