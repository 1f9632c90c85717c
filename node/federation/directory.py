"""Remote actors and their keys: cache in memory and database, fetch when needed.

`key_for` is what the inbox calls: it returns the key and its owner, fetching the
actor (signed GET) on a miss, and again once on demand when verification fails
(key rotation). Fetches are rate-limited per host.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from node.federation import keys
from node.federation.fetch import Fetcher, FetchError
from node.federation.keys import VerificationKey
from node.models import RemoteActor
from node.models.base import utcnow


class KeyError_(Exception):
    """The signer's key cannot be found or is not usable; answered with 401."""

    status = 401


class KeyUnavailable(KeyError_):
    """The key could not be fetched right now (network error, timeout, rate limit, 429,
    5xx): no verdict about the key. Work waiting on it is retried, not refused; code
    that only needs "no usable key" can keep catching KeyError_."""

    status = 503


def host_of(uri: str) -> str:
    return (urlsplit(uri).hostname or "").lower()


def netloc_of(uri: str) -> str:
    return urlsplit(uri).netloc.lower()


def keys_in(doc: dict[str, Any]) -> dict[str, VerificationKey]:
    """Every key an actor document publishes, by key id, with the owner checked."""
    actor_id = doc.get("id")
    found: dict[str, VerificationKey] = {}
    if not isinstance(actor_id, str):
        return found
    pk = doc.get("publicKey")
    for entry in pk if isinstance(pk, list) else [pk]:
        if isinstance(entry, dict) and isinstance(entry.get("publicKeyPem"), str):
            owner = entry.get("owner", actor_id)
            kid = entry.get("id")
            if owner == actor_id and isinstance(kid, str):
                try:
                    found[kid] = VerificationKey(keys.load_public_pem(entry["publicKeyPem"]),
                                                 actor_id, kid)
                except ValueError:
                    continue
    am = doc.get("assertionMethod")
    for entry in am if isinstance(am, list) else [am]:
        if isinstance(entry, dict) and entry.get("type") == "Multikey":
            kid = entry.get("id")
            mb = entry.get("publicKeyMultibase")
            if entry.get("controller") == actor_id and isinstance(kid, str) and isinstance(mb, str):
                try:
                    found[kid] = VerificationKey(keys.decode_multibase_public(mb), actor_id, kid)
                except ValueError:
                    continue
    return found


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._events: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, host: str) -> bool:
        now = time.monotonic()
        q = self._events[host]
        while q and q[0] < now - 60:
            q.popleft()
        if len(q) >= self.per_minute:
            return False
        q.append(now)
        return True


class ActorDirectory:
    def __init__(self, engine: Engine, fetcher: Fetcher, refetch_per_minute: int,
                 cache_seconds: float = 300.0) -> None:
        self.engine = engine
        self.fetcher = fetcher
        self.limiter = RateLimiter(refetch_per_minute)
        self.cache_seconds = cache_seconds
        self._keys: dict[str, tuple[VerificationKey, float]] = {}
        self._docs: dict[str, tuple[dict[str, Any], float]] = {}
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def forget_host(self, host: str) -> None:
        for kid in [k for k in self._keys if host_of(k) == host]:
            del self._keys[kid]
        for uri in [u for u in self._docs if host_of(u) == host]:
            del self._docs[uri]

    async def key_for(self, key_id: str, refresh: bool = False) -> VerificationKey:
        now = time.monotonic()
        if not refresh:
            hit = self._keys.get(key_id)
            if hit and now - hit[1] < self.cache_seconds:
                return hit[0]
        actor_uri = key_id.split("#", 1)[0]
        doc = await self.actor(actor_uri, refresh=refresh)
        found = keys_in(doc)
        if key_id not in found and not refresh:
            # A cached document may predate the key: ask the actor itself before saying
            # the key is not theirs (that answer is final for whoever asked).
            found = keys_in(await self.actor(actor_uri, refresh=True))
        if key_id not in found:
            raise KeyError_(f"actor {actor_uri} does not publish key {key_id}")
        key = found[key_id]
        self._keys[key_id] = (key, now)
        return key

    async def actor(self, uri: str, refresh: bool = False,
                    max_age: float | None = None) -> dict[str, Any]:
        """The actor document; `max_age` (seconds) asks for one at most that old, falling
        back to an older copy only if the fresh fetch fails."""
        now = time.monotonic()
        limit = self.cache_seconds if max_age is None else min(max_age, self.cache_seconds)
        if not refresh:
            hit = self._docs.get(uri)
            if hit and now - hit[1] < limit:
                return hit[0]
        async with self._locks[uri]:
            stale = None
            if not refresh:
                stored = await asyncio.to_thread(self._load, uri)
                if stored is not None:
                    doc, age = stored
                    if max_age is None or age < max_age:
                        self._docs[uri] = (doc, now - age)
                        return doc
                    stale = doc
            if not self.limiter.allow(host_of(uri)):
                if stale is not None:
                    return stale
                raise KeyUnavailable(
                    f"too many key fetches for {host_of(uri)}; try again later")
            try:
                doc = await self.fetcher.get_json(uri)
            except FetchError as exc:
                if stale is not None:
                    return stale
                error = KeyUnavailable if exc.transient else KeyError_
                raise error(f"cannot fetch signer {uri}: {exc.reason}") from exc
            if doc.get("id") != uri:
                raise KeyError_(f"document at {uri} has another id")
            await asyncio.to_thread(self._store, uri, doc)
            self._docs[uri] = (doc, time.monotonic())
            return doc

    def _load(self, uri: str) -> tuple[dict[str, Any], float] | None:
        with Session(self.engine) as s:
            row = s.exec(select(RemoteActor).where(RemoteActor.uri == uri)).first()
            if row is None or row.expired:
                return None
            data: dict[str, Any] = json.loads(row.document)
            fetched = row.fetched_at if row.fetched_at.tzinfo else row.fetched_at.replace(
                tzinfo=utcnow().tzinfo)
            return data, max((utcnow() - fetched).total_seconds(), 0.0)

    def _store(self, uri: str, doc: dict[str, Any]) -> None:
        endpoints = doc.get("endpoints") if isinstance(doc.get("endpoints"), dict) else {}
        inbox = doc.get("inbox") if isinstance(doc.get("inbox"), str) else ""
        shared = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else ""
        with Session(self.engine) as s:
            row = s.exec(select(RemoteActor).where(RemoteActor.uri == uri)).first()
            if row is None:
                row = RemoteActor(uri=uri, host=host_of(uri), document="")
            row.document = json.dumps(doc)
            row.inbox = str(inbox or "")
            row.shared_inbox = str(shared or "")
            row.fetched_at = utcnow()
            row.expired = False
            s.add(row)
            s.commit()


def expire_host_keys(engine: Engine, host: str) -> int:
    """Mark every cached actor of `host` stale; the next signature from it refetches."""
    with Session(engine) as s:
        result = s.execute(
            update(RemoteActor).where(col(RemoteActor.host) == host.lower()).values(expired=True)
        )
        s.commit()
        return int(getattr(result, "rowcount", 0) or 0)
