"""Remote actors and their keys: cache in memory and database, fetch when needed.

`key_for` is what the inbox calls: it returns the key and its owner, fetching the
actor (signed GET) on a miss, and again once on demand when verification fails
(key rotation). Fetches are throttled per host by what they cost us (`throttle.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Engine, and_, or_, update
from sqlmodel import Session, col, select

from node.activitypub import keys
from node.activitypub.fetch import Fetcher, FetchError
from node.activitypub.hosts import host_key, hostname_of, matches, names_every_port
from node.activitypub.keys import VerificationKey
from node.activitypub.throttle import HostThrottle, Throttled
from node.models import RemoteActor
from node.models.base import utcnow
from node.storage import changes

# Seconds a sender is asked to wait when its server did not give us its key and said
# nothing of when to ask again. Such a failure is most often a moment's (a connection
# dropped, a busy peer), and senders take a short Retry-After at its word
# (node/outbox/backoff.py), so this is what the first retry costs; a host whose
# fetches keep failing spends its fetch budget and is then answered 429 (throttle.py).
UNAVAILABLE_RETRY = 5


class KeyLookupFailed(Exception):
    """No usable key for a signer, for one of the reasons below; answered with 401.
    Code that only needs "no usable key" catches this; code that must tell a key
    that is not there from one we could not get catches the subclasses."""

    status = 401


class KeyNotPublished(KeyLookupFailed):
    """The actor's document was read and does not publish that key: a verdict."""


class ActorFetchFailed(KeyLookupFailed):
    """The actor's document could not be had for good (404/410, a name DNS does not
    know, not JSON, another actor's document): nobody to check the key against. Its
    subclass KeyUnavailable is the failure that may pass."""


class KeyUnavailable(ActorFetchFailed):
    """The key could not be fetched right now (network error, timeout, 429, 5xx, our
    own throttle): no verdict about the key. Work waiting on it is retried, not
    refused; the inbox answers 503 (429 for `KeyThrottled`) with `Retry-After`."""

    status = 503

    def __init__(self, message: str, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KeyThrottled(KeyUnavailable):
    """We hold this host's key fetches back for a while (see `throttle.py`)."""

    status = 429


# One meaning of "host" for every host-keyed table and cache (see hosts.py); the two
# old names stay because callers elsewhere use them.
host_of = host_key
netloc_of = host_key


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


class ActorDirectory:
    def __init__(self, engine: Engine, fetcher: Fetcher, refetch_per_minute: int,
                 cache_seconds: float = 300.0, throttle: HostThrottle | None = None) -> None:
        self.engine = engine
        self.fetcher = fetcher
        self.throttle = throttle or HostThrottle(refetch_per_minute)
        self.cache_seconds = cache_seconds
        self._keys: dict[str, tuple[VerificationKey, float]] = {}
        self._docs: dict[str, tuple[dict[str, Any], float]] = {}
        # One lock per actor being looked up, dropped when nobody holds or waits for
        # it: concurrent requests for one actor make one fetch (the others find its
        # result), and the table does not grow with every actor ever seen.
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._pending: dict[str, dict[str, Any]] = {}
        self._saved: asyncio.Future[None] | None = None
        self._saver: asyncio.Task[None] | None = None

    def forget_host(self, host: str) -> None:
        """Drop cached keys and documents of `host` (a bare name: every port of it)."""
        chosen = matches(host)
        for kid in [k for k in self._keys if chosen(k)]:
            del self._keys[kid]
        for uri in [u for u in self._docs if chosen(u)]:
            del self._docs[uri]

    def forget_all(self) -> None:
        self._keys.clear()
        self._docs.clear()

    def _refuse_blocked(self, uri: str) -> None:
        host, blocked = host_key(uri), self.fetcher.blocked
        if blocked is not None and blocked(host):
            # Also what we hold from before the block: a blocked host's actors sign
            # nothing here, whoever relays their activities.
            raise ActorFetchFailed(f"{host} is blocked on this node")

    async def key_for(self, key_id: str, refresh: bool = False) -> VerificationKey:
        self._refuse_blocked(key_id)
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
            raise KeyNotPublished(f"actor {actor_uri} does not publish key {key_id}")
        key = found[key_id]
        self._keys[key_id] = (key, now)
        return key

    @contextlib.asynccontextmanager
    async def _exclusive(self, uri: str) -> AsyncIterator[None]:
        entry = self._locks.get(uri)
        if entry is None:
            entry = self._locks[uri] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._locks[uri]

    async def actor(self, uri: str, refresh: bool = False,
                    max_age: float | None = None) -> dict[str, Any]:
        """The actor document; `max_age` (seconds) asks for one at most that old, falling
        back to an older copy only if the fresh fetch fails."""
        self._refuse_blocked(uri)
        asked = time.monotonic()
        limit = self.cache_seconds if max_age is None else min(max_age, self.cache_seconds)
        if not refresh:
            hit = self._docs.get(uri)
            if hit and asked - hit[1] < limit:
                return hit[0]
        async with self._exclusive(uri):
            hit = self._docs.get(uri)
            if hit and hit[1] >= asked:
                return hit[0]  # fetched by whoever held the lock before us: fresh enough
            stale = None
            if not refresh:
                stored = await asyncio.to_thread(self._load, uri)
                if stored is not None:
                    doc, age = stored
                    if max_age is None or age < max_age:
                        self._docs[uri] = (doc, time.monotonic() - age)
                        return doc
                    stale = doc
            try:
                doc = await self._fetch(uri, heavy=refresh)
            except ActorFetchFailed:
                if stale is not None:
                    return stale
                raise
            self._docs[uri] = (doc, time.monotonic())
            return doc

    async def _fetch(self, uri: str, heavy: bool) -> dict[str, Any]:
        """Fetch and store the actor within its host's budget and fetch slots."""
        host = host_key(uri)
        try:
            self.throttle.check(host)
            async with self.throttle.slot(host):
                if self.throttle.is_proven(host) is None:
                    self.throttle.set_proven(host, await asyncio.to_thread(self._known, host))
                ticket = self.throttle.admit(host, heavy)
                ok = False
                try:
                    doc = await self._fetch_now(uri)
                    ok = True
                finally:
                    self.throttle.settle(ticket, ok)
        except Throttled as exc:
            raise KeyThrottled(str(exc), exc.retry_after) from exc
        await self._save(uri, doc)
        return doc

    async def _fetch_now(self, uri: str) -> dict[str, Any]:
        try:
            doc = await self.fetcher.get_json(uri, same_host=True)
        except FetchError as exc:
            if exc.transient:
                raise KeyUnavailable(f"cannot fetch signer {uri}: {exc.reason}",
                                     exc.retry_after or UNAVAILABLE_RETRY) from exc
            raise ActorFetchFailed(f"cannot fetch signer {uri}: {exc.reason}") from exc
        if doc.get("id") != uri:
            raise ActorFetchFailed(f"document at {uri} has another id")
        return doc

    def _known(self, host: str) -> bool:
        """Has this host ever answered us with an actor? Rows written before hosts kept
        their port (`host` then held the name alone) count for every port of it."""
        with Session(self.engine) as s:
            hosts = {host, hostname_of(host)}
            return s.exec(select(RemoteActor.id).where(col(RemoteActor.host).in_(hosts))
                          .limit(1)).first() is not None

    def _load(self, uri: str) -> tuple[dict[str, Any], float] | None:
        with Session(self.engine) as s:
            row = s.exec(select(RemoteActor).where(RemoteActor.uri == uri)).first()
            if row is None or row.expired:
                return None
            data: dict[str, Any] = json.loads(row.document)
            fetched = row.fetched_at if row.fetched_at.tzinfo else row.fetched_at.replace(
                tzinfo=utcnow().tzinfo)
            return data, max((utcnow() - fetched).total_seconds(), 0.0)

    async def _save(self, uri: str, doc: dict[str, Any]) -> None:
        """Store a fetched actor, together with those fetched meanwhile: a burst of first
        contacts makes a few commits, not one (and one fsync) per actor."""
        loop = asyncio.get_running_loop()
        self._pending[uri] = doc
        # (A directory outliving its event loop, as in tests, starts afresh on the next.)
        if self._saved is None or self._saved.get_loop() is not loop:
            self._saved = loop.create_future()
        saved = self._saved
        if self._saver is None or self._saver.get_loop() is not loop:
            self._saver = asyncio.create_task(self._save_pending())
        await asyncio.shield(saved)

    async def _save_pending(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                saved, self._saved = self._saved, None
                try:
                    await asyncio.to_thread(self._store, batch)
                # Whatever failed, every waiter of this batch must get it (and raises it
                # in its own request); a waiter left without an answer would hang.
                except Exception as exc:  # noqa: BLE001
                    if saved is not None:
                        saved.set_exception(exc)
                else:
                    if saved is not None:
                        saved.set_result(None)
        finally:
            self._saver = None

    def _store(self, batch: dict[str, dict[str, Any]]) -> None:
        with Session(self.engine) as s:
            rows = {r.uri: r for r in s.exec(
                select(RemoteActor).where(col(RemoteActor.uri).in_(list(batch))))}
            for uri, doc in batch.items():
                endpoints = doc.get("endpoints") if isinstance(doc.get("endpoints"), dict) else {}
                inbox = doc.get("inbox") if isinstance(doc.get("inbox"), str) else ""
                shared = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else ""
                row = rows.get(uri) or RemoteActor(uri=uri, host=host_key(uri), document="")
                # Written on every fetch, so a row from before hosts kept their port takes
                # the current form the next time its actor is fetched.
                row.host = host_key(uri)
                row.document = json.dumps(doc)
                row.inbox = str(inbox or "")
                row.shared_inbox = str(shared or "")
                row.fetched_at = utcnow()
                row.expired = False
                s.add(row)
            s.commit()


def expire_host_keys(engine: Engine, host: str) -> int:
    """Mark every cached actor of `host` stale; the next signature from it refetches.

    "a.example" expires every port of it, "a.example:8443" that port only. Rows stored
    before `remote_actor.host` kept the port hold the name alone: a bare name matches
    them as it is, and "name:port" matches them by the port in their uri. No data
    migration: `_store` rewrites the column in the current form whenever an actor is
    fetched again.
    """
    key, name = host_key(host), hostname_of(host)
    if not key:
        return 0
    same = col(RemoteActor.host) == key
    if names_every_port(host):
        # startswith escapes LIKE's wildcards ("_" is legal in host names).
        chosen = or_(same, col(RemoteActor.host).startswith(f"{key}:", autoescape=True))
    else:
        # An old row's port is still in its uri.
        chosen = or_(same, and_(col(RemoteActor.host) == name, or_(
            *(col(RemoteActor.uri).startswith(f"{scheme}://{key}/", autoescape=True)
              for scheme in ("http", "https")))))
    with Session(engine) as s:
        result = s.execute(update(RemoteActor).where(chosen).values(expired=True))
        # Every process drops its copies in memory within a second (the change feed).
        changes.bump(s, changes.KEYS)
        s.commit()
        return int(getattr(result, "rowcount", 0) or 0)
