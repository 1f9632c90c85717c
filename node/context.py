"""Everything a running node process shares: settings, database, keys, caches.

Built once per process (web or worker); nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from node.activitypub import keys
from node.activitypub.directory import ActorDirectory
from node.activitypub.fetch import Fetcher, make_client
from node.activitypub.hosts import hostname_of
from node.activitypub.httpsig import Policy, authorities_of
from node.activitypub.httpsig.sign import sign_cavage
from node.activitypub.identity import primary_actor
from node.activitypub.urls import Urls
from node.clock import SYSTEM, Clock
from node.config import Settings
from node.models import LocalActor, PeerHost
from node.storage import aftercommit, changes
from node.storage.audit import Who
from node.storage.broadcast import Broadcast
from node.storage.changes import ChangeFeed
from node.storage.db import make_engine
from node.storage.wakebus import WakeBus
from node.tx import Tx


class Wakeup(asyncio.Event):
    """An asyncio.Event that any thread may set.

    Sync routes and work sent to a thread publish and then wake the workers; a plain
    Event set off its loop's thread neither wakes the loop nor is safe, so the worker
    would only notice at its next poll.
    """

    def __init__(self, topic: str = "") -> None:
        super().__init__()
        self.topic = topic
        self.bus: WakeBus | None = None

    def set(self) -> None:
        """Wake this process's loop and, through the bus, the other processes' loops."""
        self.set_local()
        if self.bus is not None:
            self.bus.notify(self.topic)

    def set_local(self) -> None:
        loop = getattr(self, "_loop", None)  # bound by asyncio on the first wait
        if loop is not None and not loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                loop.call_soon_threadsafe(asyncio.Event.set, self)
                return
        super().set()


class NotInitialised(Exception):
    pass


class UnknownBody(KeyError):
    """A handle this node does not host, even after reading the database again."""


# A handle nobody knows sends a process back to the database at most this often, so
# strangers asking for random names cannot turn every request into a reload.
MISS_RELOAD_EVERY = 0.2


@dataclass
class SigningKey:
    key_id: str
    private: Any


class LocalActors(Mapping[str, LocalActor]):
    """The bodies this node hosts, by handle, as every process sees them: the copy in
    memory is reloaded when the change feed says bodies changed (checked at most once a
    second), and at once when asked for a handle it does not hold, because a body
    created in another process a moment ago must answer here too."""

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        self._by_handle: dict[str, LocalActor] = {}
        self._missed_at = -math.inf

    def held(self) -> dict[str, LocalActor]:
        """The copy in memory, as it is (no reload)."""
        return self._by_handle

    def replace(self, actors: dict[str, LocalActor]) -> None:
        self._by_handle = actors

    def __getitem__(self, handle: str) -> LocalActor:
        self._ctx.sync()
        found = self._by_handle.get(handle)
        if found is not None:
            return found
        now = self._ctx.feed.clock()
        if now - self._missed_at < MISS_RELOAD_EVERY:
            raise UnknownBody(handle)
        self._missed_at = now
        return self.reloaded(handle)

    def reloaded(self, handle: str) -> LocalActor:
        """`handle`'s body after reading the database again, with no miss limit."""
        if changes.BODIES not in self._ctx.sync(force=True):
            # Also when no bump announced it: a miss is worth one read of the table.
            self._ctx.reload_actors()
        found = self._by_handle.get(handle)
        if found is None:
            raise UnknownBody(handle)
        return found

    def __iter__(self) -> Iterator[str]:
        self._ctx.sync()
        return iter(list(self._by_handle))

    def __len__(self) -> int:
        self._ctx.sync()
        return len(self._by_handle)


@dataclass
class NodeContext:
    settings: Settings
    engine: Engine
    urls: Urls
    primary: LocalActor
    fetcher: Fetcher
    _directory: ActorDirectory
    policy: Policy
    feed: ChangeFeed
    signing_keys: dict[str, SigningKey] = field(default_factory=dict)
    inbox_wakeup: Wakeup = field(default_factory=lambda: Wakeup("inbox"))
    delivery_wakeup: Wakeup = field(default_factory=lambda: Wakeup("delivery"))
    economy_wakeup: Wakeup = field(default_factory=lambda: Wakeup("economy"))
    # A matter newly left waiting to be sent up (node/federations/retries.py).
    escalation_wakeup: Wakeup = field(default_factory=lambda: Wakeup("escalation"))
    # Every open event stream (node/events), after a commit that wrote events.
    events_wakeup: Broadcast = field(default_factory=lambda: Broadcast("events"))
    bus: WakeBus | None = None
    clock: Clock = SYSTEM
    actors: LocalActors = field(init=False)
    _blocked: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.actors = LocalActors(self)

    def tx(self, session: Session, who: Who = None) -> Tx:
        """A unit of work on `session` (which the caller commits), acted by `who`."""
        return Tx(session, self.urls, who, self.clock)

    @contextmanager
    def unit(self, who: Who = None) -> Iterator[Tx]:
        """A unit of work on a new session; nothing is kept unless it commits."""
        with Session(self.engine) as s:
            yield self.tx(s, who)

    def attach_bus(self, bus: WakeBus) -> None:
        self.bus = bus
        for wakeup in self._wakeups():
            wakeup.bus = bus

    def listen_for_wakeups(self) -> None:
        """Let other processes of this node wake this one's loops (call from the loop)."""
        if self.bus is not None:
            self.bus.listen(asyncio.get_running_loop(),
                            {w.topic: w.set_local for w in self._wakeups()})

    def idle_poll(self) -> float:
        """How long an idle loop sleeps between looks for work it was not told about:
        long while other processes' commits wake it through the bus, the short poll
        when they cannot."""
        s = self.settings
        heard = self.bus is not None and self.bus.listening
        return s.idle_poll_seconds if heard else min(s.delivery_poll_seconds,
                                                     s.idle_poll_seconds)

    def _wakeups(self) -> tuple[Wakeup | Broadcast, ...]:
        return (self.inbox_wakeup, self.delivery_wakeup, self.economy_wakeup,
                self.escalation_wakeup, self.events_wakeup)

    def load(self) -> None:
        """Fill every cache from the database, taking the feed's versions first."""
        self.feed.prime()
        self.reload_actors()
        self.refresh_blocks()

    def sync(self, force: bool = False) -> set[str]:
        """Reload what another process changed, and say which topics those were: cheap
        when nothing is due (a clock read), one small SELECT when it is."""
        if not force and not self.feed.due():
            return set()
        changed = self.feed.poll(force)
        if changes.BODIES in changed:
            self.reload_actors()
        if changes.BLOCKS in changed:
            self.refresh_blocks()
        if changes.KEYS in changed:
            # A facilitator expired some host's keys; which host is not recorded, and the
            # database copies are marked expired, so forgetting every copy in memory
            # costs one table read per key in use.
            self._directory.forget_all()
        return changed

    @property
    def directory(self) -> ActorDirectory:
        # Everything that looks up remote keys comes through here, so a key expiry made
        # in another process is heard of before the lookup.
        self.sync()
        return self._directory

    def signing_key(self, handle: str) -> SigningKey:
        key = self.signing_keys.get(handle)
        if key is None:
            # Only our own outbox asks, for bodies it has rows of: always worth a reload,
            # with no miss limit (a body created elsewhere a moment ago signs here).
            self.sync()
            actor = self.actors.held().get(handle) or self.actors.reloaded(handle)
            private = keys.load_private_pem(actor.rsa_private_pem)
            key = SigningKey(self.urls.main_key(handle), private)
            self.signing_keys[handle] = key
        return key

    def get_signer(self, url: str) -> dict[str, str]:
        key = self.signing_key(self.primary.handle)
        return sign_cavage("GET", url, key.key_id, key.private)

    def is_blocked(self, host: str) -> bool:
        self.sync()
        return host.lower() in self._blocked

    def host_blocked(self, host: str) -> bool:
        """`host` (host:port) is blocked by its own rule or by one on its bare name."""
        return self.is_blocked(host) or self.is_blocked(hostname_of(host))

    def refresh_blocks(self) -> None:
        with Session(self.engine) as s:
            rows = s.exec(select(PeerHost.host).where(PeerHost.blocked == True)).all()  # noqa: E712
        self._blocked = {h.lower() for h in rows}

    def reload_actors(self) -> None:
        with Session(self.engine) as s:
            fresh = {a.handle: a for a in s.exec(select(LocalActor)).all()}
        old = self.actors.held()
        # A parsed signing key stays while its body keeps the same private key.
        self.signing_keys = {h: k for h, k in self.signing_keys.items()
                             if h in fresh and h in old
                             and fresh[h].rsa_private_pem == old[h].rsa_private_pem}
        self.actors.replace(fresh)


def build_context(settings: Settings, engine: Engine | None = None) -> NodeContext:
    if not settings.is_initialised:
        raise NotInitialised(
            f"{settings.data_dir} holds no node yet: run `comuna init --data-dir "
            f"{settings.data_dir} --url URL --handle NAME --name TEXT --level LEVEL`"
        )
    engine = engine or make_engine(settings.effective_database_url)
    with Session(engine) as s:
        primary = primary_actor(s)
        if primary is None:
            raise NotInitialised("the database has no primary body; run `comuna init`")
        s.expunge(primary)
    urls = Urls(settings.url)
    client = make_client(settings.allow_private_networks, settings.fetch_timeout)
    fetcher = Fetcher(client, settings.fetch_max_bytes, settings.fetch_max_redirects)
    directory = ActorDirectory(engine, fetcher, settings.key_refetch_per_host_per_minute)
    # Signatures must be addressed to this node (its public host, as a trusted proxy
    # forwards it), or a request signed for another server could be replayed here.
    policy = Policy(max_age=settings.max_signature_age, max_ahead=settings.max_signature_skew_ahead,
                    authorities=authorities_of(settings.url))
    ctx = NodeContext(settings, engine, urls, primary, fetcher, directory, policy,
                      ChangeFeed(engine))
    fetcher.signer = ctx.get_signer
    fetcher.blocked = ctx.host_blocked
    ctx.attach_bus(WakeBus(settings.data_dir / "run"))
    # What a transaction publishes wakes delivery (or the economy) once it commits.
    aftercommit.register(engine, {w.topic: w.set for w in ctx._wakeups()})
    ctx.load()
    return ctx
