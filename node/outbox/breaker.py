"""The circuit breaker for delivery hosts: a small state graph and where it is kept.

    closed ──(`threshold` failures in a row)──▶ open, for cooldown(trips)
    open ──(cooldown over: one queued row claimed as the probe)──▶ half_open
    half_open ──(the probe is answered)──▶ closed, and the host's queue is released
    half_open ──(the probe fails)──▶ open, for a doubled cooldown
    half_open ──(the probe was not sent: an error of ours)──▶ half_open, probe free again
    any ──(an answer, or a verified activity from the host)──▶ closed (+ release)
    closed with failures ──(an answer)──▶ closed, no failures (+ release)

The first cooldown is short so a neighbour's restart costs seconds, not minutes;
it doubles with each trip up to a cap, so a host down for days costs one request
per cap. While a host is held its rows are not claimed at all; the probe is the
host's oldest queued row even if that row is not due, and when it fails it counts
as the attempt of every row of the host that was due, so each row keeps its own
backoff schedule (and is parked no sooner than without a breaker). Releasing makes
every queued row of the host due at once; claiming orders them by id, so they go
out in the order they were made.

State lives in `peer_host`, so every process sees it and a restart keeps it; the
probe is taken by a conditional UPDATE, so only one process sends it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import BindParameter, Engine, Integer, and_, bindparam, func, or_, select, update
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, col

from node.models import Delivery, PeerHost
from node.models.base import aware, utcnow
from node.storage import aftercommit
from node.storage.leases import lease_token

log = logging.getLogger("comuna.breaker")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
# A row put back after an error of ours (see delivery.py) says so; it is not a
# good probe until it is due again, since it would fail the same way.
LOCAL_ERROR = "local: "

Event = Literal["success", "failure", "probe", "probe_failure", "probe_void"]


@dataclass(frozen=True)
class Policy:
    threshold: int = 5
    cooldown: float = 5.0
    cooldown_max: float = 600.0
    # How long a claimed probe holds the host before another process may probe.
    probe_seconds: float = 30.0

    @classmethod
    def of(cls, settings: Any) -> Policy:
        return cls(threshold=settings.breaker_threshold, cooldown=settings.breaker_cooldown,
                   cooldown_max=settings.breaker_cooldown_max,
                   probe_seconds=settings.delivery_timeout + 5.0)

    def cooldown_for(self, trips: int) -> float:
        return min(self.cooldown * 2.0 ** max(trips - 1, 0), self.cooldown_max)


@dataclass(frozen=True)
class State:
    breaker: str = CLOSED
    failures: int = 0
    trips: int = 0
    open_until: datetime | None = None
    probe_id: int | None = None
    probe_until: datetime | None = None

    @property
    def clean(self) -> bool:
        return self.breaker == CLOSED and self.failures == 0

    @property
    def held(self) -> bool:
        return self.breaker != CLOSED


def can_probe(s: State, now: datetime) -> bool:
    if s.breaker == OPEN:
        return s.open_until is None or aware(s.open_until) <= now
    if s.breaker == HALF_OPEN:  # the prober died or never answered
        return s.probe_until is None or aware(s.probe_until) < now
    return False


def step(s: State, event: Event, now: datetime, policy: Policy,
         probe_id: int | None = None) -> State:
    """The one place the breaker moves. Events that do not apply leave it as it is."""
    if event == "success":
        return State()
    if event == "probe":
        if not can_probe(s, now):
            return s
        return replace(s, breaker=HALF_OPEN, probe_id=probe_id,
                       probe_until=now + timedelta(seconds=policy.probe_seconds))
    if event == "probe_void":  # the probe was never sent (our error): another may go
        return replace(s, probe_id=None, probe_until=None) if s.breaker == HALF_OPEN else s
    failures = s.failures + 1
    trip = ((event == "probe_failure" and s.breaker == HALF_OPEN)
            or (s.breaker == CLOSED and failures >= policy.threshold))
    if not trip:
        # A failure while held is a request that was in flight when the host opened:
        # it changes nothing but the count.
        return replace(s, failures=failures)
    trips = s.trips + 1
    return State(breaker=OPEN, failures=failures, trips=trips,
                 open_until=now + timedelta(seconds=policy.cooldown_for(trips)))


def state_of(peer: Any) -> State:
    """From a PeerHost, or a row of its table."""
    return State(breaker=peer.breaker, failures=peer.consecutive_failures, trips=peer.trips,
                 open_until=peer.open_until, probe_id=peer.probe_id,
                 probe_until=peer.probe_until)


def store(peer: PeerHost, s: State) -> None:
    peer.breaker = s.breaker
    peer.consecutive_failures = s.failures
    peer.trips = s.trips
    peer.open_until = s.open_until
    peer.probe_id = s.probe_id
    peer.probe_until = s.probe_until


# -- storage ---------------------------------------------------------------------------

@functools.cache
def claimable() -> ColumnElement[bool]:
    """Rows ordinary claiming may take: the host is neither blocked nor held. One
    object, so the statements that claim with it are built once (`leases.claim`)."""
    held = select(col(PeerHost.host)).where(
        or_(col(PeerHost.blocked).is_(True), col(PeerHost.breaker) != CLOSED))
    return and_(col(Delivery.host).not_in(held), ~_under_bare_block())


def _under_bare_block() -> ColumnElement[bool]:
    """The row's host is "name:port" and the bare name is blocked: a facilitator who
    blocks "a.example" means every port of it (node/activitypub/hosts.py), as the inbox
    does. The port's digits are trimmed off ("name:port" -> "name:"; `host_key` never
    leaves a port-less host ending in ":") and the rest looked up among the blocked
    names: a hashed IN, where a prefix test against each blocked name made every claim
    compare every due row with every block (seconds on PostgreSQL with a blocklist)."""
    return func.rtrim(col(Delivery.host), "0123456789").in_(
        select(col(PeerHost.host).concat(":")).where(col(PeerHost.blocked).is_(True)))


def _probe_due(now: datetime | BindParameter[Any]) -> ColumnElement[bool]:
    """`can_probe` in SQL, for the conditional UPDATE that makes the probe one."""
    return and_(
        col(PeerHost.blocked).is_(False),
        or_(and_(col(PeerHost.breaker) == OPEN,
                 or_(col(PeerHost.open_until).is_(None), col(PeerHost.open_until) <= now)),
            and_(col(PeerHost.breaker) == HALF_OPEN,
                 or_(col(PeerHost.probe_until).is_(None), col(PeerHost.probe_until) < now))))


# Read by every batch of outcomes and every verified arrival from a failing host: built once.
_PEERS = select(PeerHost).where(col(PeerHost.host).in_(bindparam("hosts", expanding=True))
                                ).order_by(col(PeerHost.host))
_PEERS_LOCKED = _PEERS.with_for_update()


def lock_peers(s: Session, hosts: Iterable[str]) -> dict[str, PeerHost]:
    """The hosts' rows, locked on PostgreSQL in one order (no deadlock between workers)."""
    wanted = sorted(set(hosts))
    if not wanted:
        return {}
    dialect = s.get_bind().dialect.name
    q = _PEERS_LOCKED if dialect == "postgresql" else _PEERS
    found = {p.host: p for p in s.execute(q, {"hosts": wanted}).scalars()}
    missing = [h for h in wanted if h not in found]
    if missing:
        # First contact: two workers may meet a new host at once; both inserting would
        # fail one whole batch of outcomes, so the row is made if absent, then locked.
        table: Any = PeerHost.__table__  # type: ignore[attr-defined]
        # Only the dialect in use is imported: the other costs memory in every process.
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        s.execute(insert(table).values([{"host": h} for h in missing])
                  .on_conflict_do_nothing(index_elements=["host"]))
        found.update({p.host: p for p in s.execute(q, {"hosts": missing}).scalars()})
    return {h: found[h] for h in wanted}


@functools.cache
def _probe_hosts() -> Any:
    """The hosts due a probe, built once: asked at every claim of every delivery worker.
    Only hosts with something to send: one held while its rows were parked is probed by
    the first row queued for it later."""
    waiting = select(col(Delivery.id)).where(col(Delivery.host) == col(PeerHost.host),
                                             col(Delivery.state) == "queued").exists()
    return select(col(PeerHost.host)).where(_probe_due(bindparam("now")), waiting).limit(
        bindparam("limit", type_=Integer))


def claim_probes(engine: Engine, policy: Policy, lease_seconds: float,
                 now: datetime | None = None, limit: int = 16) -> list[Any]:
    """For each host whose cooldown is over, lease its oldest queued row as the probe."""
    now = now or utcnow()
    with engine.connect() as conn:
        hosts = [r[0] for r in conn.execute(_probe_hosts(), {"now": now, "limit": limit})]
    rows = []
    for host in hosts:
        try:
            row = _take_probe(engine, host, policy, lease_seconds, now)
        except _Lost:
            continue
        if row is not None:
            rows.append(row)
    return rows


def next_work_at(engine: Engine, now: datetime) -> datetime | None:
    """The earliest moment claiming could find something: a row of a host neither
    blocked nor held falls due, or a held host's probe may go (`_take_probe`'s rules:
    when its cooldown ends, with a row that is not under a block and either due or
    not put back by an error of ours). None when nothing is queued that may be sent."""
    with engine.connect() as conn:
        rows = conn.execute(select(func.min(col(Delivery.next_attempt_at))).where(
            col(Delivery.state) == "queued", claimable())).scalar()
        # Held hosts are few (each one a peer that keeps failing).
        held = conn.execute(select(PeerHost.breaker, PeerHost.open_until,  # type: ignore[call-overload]
                                   PeerHost.probe_until, PeerHost.host).where(
            col(PeerHost.breaker) != CLOSED, col(PeerHost.blocked).is_(False))).all()
        found = [aware(rows)] if rows is not None else []
        for breaker, open_until, probe_until, host in held:
            until = open_until if breaker == OPEN else probe_until
            cooled = aware(until) if until is not None else now
            queued = and_(col(Delivery.host) == host, col(Delivery.state) == "queued",
                          ~_under_bare_block())
            # A row whose last failure was the peer's may be the probe before it is due.
            if conn.execute(select(col(Delivery.id)).where(
                    queued, col(Delivery.last_error).not_like(f"{LOCAL_ERROR}%"))
                    .limit(1)).first() is not None:
                found.append(cooled)
                continue
            due = conn.execute(select(func.min(col(Delivery.next_attempt_at)))
                               .where(queued)).scalar()
            if due is not None:
                found.append(max(cooled, aware(due)))
    return min(found) if found else None


class _Lost(Exception):
    """Another process took the probe or its row first: undo our half."""


def _take_probe(engine: Engine, host: str, policy: Policy, lease_seconds: float,
                now: datetime) -> Any:
    free = and_(col(Delivery.host) == host, col(Delivery.state) == "queued",
                or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) < now),
                ~_under_bare_block())
    usable = or_(col(Delivery.next_attempt_at) <= now,
                 col(Delivery.last_error).not_like(f"{LOCAL_ERROR}%"))
    with engine.begin() as conn:
        probe_id = conn.execute(select(col(Delivery.id)).where(free, usable)
                                .order_by(col(Delivery.id)).limit(1)).scalar()
        if probe_id is None:
            return None  # nothing to send: it stays open until something is queued
        # Both UPDATEs are conditional: another process may have taken the probe, or
        # the row, since we looked.
        before = state_of(conn.execute(select(PeerHost).where(col(PeerHost.host) == host))
                          .one())
        after = step(before, "probe", now, policy, probe_id)
        if after == before:
            raise _Lost
        won = conn.execute(update(PeerHost).where(col(PeerHost.host) == host, _probe_due(now))
                           .values(breaker=after.breaker, probe_id=after.probe_id,
                                   probe_until=after.probe_until))
        if not won.rowcount:
            raise _Lost
        got = conn.execute(update(Delivery).where(col(Delivery.id) == probe_id, free).values(
            lease_owner=lease_token(), lease_until=now + timedelta(seconds=lease_seconds)))
        if not got.rowcount:
            raise _Lost
        return conn.execute(select(Delivery).where(col(Delivery.id) == probe_id)).one()


def look_again(engine: Engine, now: datetime | None = None) -> None:
    """At a worker's start, end every cooldown: a host held open across our restart gets
    its probe at once (the failures may have been our own link's). The trips are kept,
    so a host still down goes on waiting longer and longer."""
    now = now or utcnow()
    with engine.begin() as conn:
        conn.execute(update(PeerHost).where(col(PeerHost.breaker) == OPEN,
                                            col(PeerHost.open_until) > now)
                     .values(open_until=now))


def release(s: Session, hosts: Iterable[str], now: datetime) -> None:
    """Every queued row of these hosts is due now (claiming keeps their id order)."""
    hosts = sorted(set(hosts))
    if hosts:
        s.execute(update(Delivery).where(col(Delivery.host).in_(hosts),
                                         col(Delivery.state) == "queued")
                  .values(next_attempt_at=now))


def heard_from(engine: Engine, hosts: set[str], now: datetime | None = None) -> set[str]:
    """A verified activity came from these hosts: they are up. Returns the released ones.

    Costs no query unless one of them is known to be failing or the list of failing
    hosts is more than a second old.
    """
    watch = watch_of(engine)
    watch.refresh(engine)
    suspects = watch.among(hosts)
    if not suspects:
        return set()
    now = now or utcnow()
    released: set[str] = set()
    with Session(engine) as s:
        for host, peer in lock_peers(s, suspects).items():
            before = state_of(peer)
            if before.clean:
                continue
            if before.held:
                released.add(host)
            store(peer, step(before, "success", now, Policy()))
            peer.last_success_at = now
            s.add(peer)
        release(s, released, now)
        if released:
            # Workers of other processes too (the bus): the queue is due now, and they
            # may be asleep until the host's cooldown would have ended.
            aftercommit.wake(s, "delivery")
        s.commit()
    watch.settle(suspects, set())
    if released:
        log.info("heard from %s: breaker closed, queue released", ", ".join(sorted(released)))
        watch.wake()
    return released


# -- what this process knows without asking ------------------------------------------

# Read about once a second by every process that verifies arriving activities: built once.
_SUSPECTS = select(col(PeerHost.host)).where(or_(col(PeerHost.breaker) != CLOSED,
                                                 col(PeerHost.consecutive_failures) > 0))


class Watch:
    """Per engine: hosts last seen failing or held, and the delivery workers to wake.

    The inbox asks it on every stored batch; a healthy sender costs a set lookup.
    """

    REFRESH_SECONDS = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._suspects: set[str] = set()
        self._read_at = float("-inf")
        self._wakers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def stale(self) -> bool:
        return time.monotonic() - self._read_at > self.REFRESH_SECONDS

    def worth_a_look(self, hosts: set[str]) -> bool:
        with self._lock:
            return self.stale() or not self._suspects.isdisjoint(hosts)

    def among(self, hosts: set[str]) -> set[str]:
        with self._lock:
            return self._suspects & hosts

    def refresh(self, engine: Engine) -> None:
        if not self.stale():
            return
        with engine.connect() as conn:
            found = set(conn.execute(_SUSPECTS).scalars())
        with self._lock:
            self._suspects = found
            self._read_at = time.monotonic()

    def settle(self, clean: set[str], failing: set[str]) -> None:
        with self._lock:
            self._suspects -= clean
            self._suspects |= failing

    def listen(self, event: asyncio.Event) -> None:
        with self._lock:
            self._wakers.append((asyncio.get_running_loop(), event))

    def unlisten(self, event: asyncio.Event) -> None:
        with self._lock:
            self._wakers = [(lp, ev) for lp, ev in self._wakers if ev is not event]

    def wake(self) -> None:
        with self._lock:
            wakers = list(self._wakers)
        for loop, event in wakers:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed
                pass


_watches: weakref.WeakKeyDictionary[Engine, Watch] = weakref.WeakKeyDictionary()
_watches_lock = threading.Lock()


def watch_of(engine: Engine) -> Watch:
    with _watches_lock:
        w = _watches.get(engine)
        if w is None:
            w = _watches[engine] = Watch()
        return w


class Hearing:
    """The inbox writer's side: note the signers' hosts after a commit, never blocking it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def note(self, hosts: set[str]) -> None:
        if not hosts or not watch_of(self.engine).worth_a_look(hosts):
            return
        self._pending |= hosts
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            hosts, self._pending = self._pending, set()
            try:
                await asyncio.to_thread(heard_from, self.engine, hosts)
            except Exception:
                log.exception("closing the breaker of %s failed", ", ".join(sorted(hosts)))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
