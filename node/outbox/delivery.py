"""The delivery worker: claims due rows, signs, posts, records the outcome.

A row's life: queued → delivered, or queued → (retries with backoff) → failed.
Per-host concurrency is capped and a circuit breaker (node/outbox/breaker.py)
stops claiming rows for a host that keeps failing, so one dead peer never slows
delivery to the others, and lets one probe through to learn when it is back.
An error on our side before a request goes out (an unknown body, a key we cannot
load) puts the row back for a retry and is never held against the peer.
Outcomes are written in batches to keep the database out of the hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from sqlalchemy import Engine, and_, bindparam, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from node.activitypub.httpclient import Pool
from node.activitypub.httpsig.sign import sign_cavage
from node.context import NodeContext
from node.models import Delivery, OutboxItem, PeerHost
from node.models.base import aware, utcnow
from node.outbox import breaker, sender
from node.outbox.backoff import is_permanent, next_attempt, retry_after_seconds
from node.storage.leases import claim, free_dead_at_start
from node.waiting import first_of, until_next

log = logging.getLogger("comuna.delivery")
# What signing a row can raise on our side: its body or its author gone (KeyError,
# UnknownBody), a key that does not load, the database read behind a reload. Anything
# else is a bug, logged with its traceback by `_deliver`; the row is retried either way.
_LOCAL_ERRORS = (LookupError, ValueError, TypeError, UnsupportedAlgorithm, SQLAlchemyError)
LEASE_SECONDS = 120.0
FLUSH_EVERY = 0.05
# How often a busy worker also looks for hosts whose cooldown is over (an idle one
# looks on every poll).
PROBE_EVERY = 0.5


@dataclass
class LocalFailure:
    """Our side failed before a request was sent: it says nothing about the peer."""

    error: str


Outcome = sender.SendResult | LocalFailure


@dataclass(frozen=True)
class Limits:
    max_attempts: int
    backoff_base: float
    breaker: breaker.Policy

    @classmethod
    def of(cls, settings: Any) -> Limits:
        return cls(settings.delivery_max_attempts, settings.delivery_backoff_base,
                   breaker.Policy.of(settings))


def claim_work(engine: Engine, limit: int, policy: breaker.Policy,
               probes: bool = True) -> list[Any]:
    """Probes for hosts whose cooldown is over, then due rows of hosts not held."""
    rows = breaker.claim_probes(engine, policy, LEASE_SECONDS, limit=limit) if probes else []
    if len(rows) < limit:
        rows += claim(engine, Delivery, limit - len(rows), LEASE_SECONDS, breaker.claimable())
    return rows


class DeliveryWorker:
    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        s = ctx.settings
        self.limits = Limits.of(s)
        self.concurrency = s.delivery_concurrency
        self.host_limits: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(s.delivery_per_host))
        self.inflight = 0
        self.results: list[tuple[Any, Outcome]] = []
        self.bodies: OrderedDict[int, tuple[bytes, str]] = OrderedDict()
        self.session: Pool | None = None
        self._slots = asyncio.Semaphore(self.concurrency)
        self._probe_at = 0.0
        self._sending = asyncio.Event()
        # The loop keeps only weak references to tasks: without these, a send in
        # flight could be collected before it records its outcome.
        self._sends: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        # A queue released elsewhere in this process (the inbox heard from a host)
        # wakes us; rows committed by other processes of the node wake us through the
        # bus, and failing that are found at the next poll.
        watch = breaker.watch_of(self.ctx.engine)
        watch.listen(self.ctx.delivery_wakeup)
        self.ctx.listen_for_wakeups()
        try:
            await asyncio.to_thread(breaker.look_again, self.ctx.engine)
        except Exception:
            log.exception("ending the breakers' cooldowns at start failed")
        await asyncio.to_thread(free_dead_at_start, self.ctx.engine, Delivery, "deliveries")
        flusher = asyncio.create_task(self._flush_loop(stop))
        try:
            while not stop.is_set():
                # Keep up to one batch claimed ahead of the requests in flight, so the
                # claim round-trips overlap with sending.
                free = 2 * self.concurrency - self.inflight
                # Cleared before looking, not after: a publish that lands while we
                # claim sets it again, so the wait below returns at once instead of
                # sleeping a whole poll interval on work that is already there.
                self.ctx.delivery_wakeup.clear()
                rows = await self._claim(loop, free) if free > 0 else []
                if rows:
                    await self._start(rows)
                    continue
                await first_of(self.ctx.delivery_wakeup, stop,
                               timeout=await self._idle_wait() if free > 0 else 0.05)
        finally:
            watch.unlisten(self.ctx.delivery_wakeup)
            if self.ctx.bus is not None:
                self.ctx.bus.close()
            while self.inflight:
                await asyncio.sleep(0.05)
            if stop.is_set():
                await flusher
            else:
                # Left by an error, not a stop: the flusher would wait for a stop that
                # never comes. What it had not recorded is recorded just below.
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
            await self._flush()
            if self.session is not None:
                await self.session.aclose()

    async def _idle_wait(self) -> float:
        """How long to sleep when nothing could be claimed: until the next row falls
        due or a held host may be probed, unless woken (waking an idle process costs
        far more CPU than its few statements, so it is not done on a fixed poll)."""
        poll = self.ctx.settings.delivery_poll_seconds
        if self.inflight:
            # Outcomes being recorded may release a host's queue (they wake us too).
            return poll
        return await until_next(partial(breaker.next_work_at, self.ctx.engine), poll,
                                self.ctx.idle_poll())

    async def _claim(self, loop: asyncio.AbstractEventLoop, free: int) -> list[Any]:
        probes = loop.time() >= self._probe_at
        if probes:
            self._probe_at = loop.time() + PROBE_EVERY
        try:
            return await asyncio.to_thread(claim_work, self.ctx.engine, free,
                                           self.limits.breaker, probes)
        except Exception:
            # The worker's loop must outlive a failing claim: the next poll tries again.
            log.exception("claiming deliveries failed")
            return []

    async def _start(self, rows: list[Any]) -> None:
        if self.session is None:
            # Made on the first work rather than at start: a node that never delivers
            # holds no pool.
            s = self.ctx.settings
            self.session = sender.make_session(
                s.allow_private_networks, s.delivery_timeout, self.concurrency)
        await self._load_bodies(rows)
        self._sending.set()
        for row in rows:
            self.inflight += 1
            task = asyncio.create_task(self._deliver(row))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _load_bodies(self, rows: list[Any]) -> None:
        missing = {r.outbox_id for r in rows if r.outbox_id not in self.bodies}
        if missing:
            loaded = await asyncio.to_thread(_bodies, self.ctx.engine, missing)
            for oid, value in loaded.items():
                self.bodies[oid] = value
            while len(self.bodies) > 1000:
                self.bodies.popitem(last=False)

    async def _deliver(self, row: Any) -> None:
        try:
            result = await self._send(row)
        except Exception as exc:  # a bug of ours: the row is retried, the peer not blamed
            log.exception("delivery %s to %s: not sent", row.id, row.inbox)
            result = LocalFailure(f"{type(exc).__name__}: {exc}")
        self.results.append((row, result))
        self.inflight -= 1

    async def _send(self, row: Any) -> Outcome:
        async with self.host_limits[row.host], self._slots:
            try:
                body, handle = self.bodies[row.outbox_id]
                key = self.ctx.signing_key(handle)
                headers = sign_cavage("POST", row.inbox, key.key_id, key.private, body=body,
                                      headers={"Content-Type": "application/activity+json"})
            except _LOCAL_ERRORS as exc:
                log.warning("delivery %s to %s: not sent, local error %s: %s",
                            row.id, row.host, type(exc).__name__, exc)
                return LocalFailure(f"{type(exc).__name__}: {exc}")
            # sender.post turns every network error into a result; it does not raise.
            assert self.session is not None  # made by _start before any send
            return await sender.post(self.session, row.inbox, body, headers)

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set() or self.inflight:
            # Asleep while nothing is in flight: a loop ticking 20 times a second kept
            # every idle node's process awake.
            if not self.inflight and not self.results:
                self._sending.clear()
                await first_of(self._sending, stop, timeout=60.0)
            await asyncio.sleep(FLUSH_EVERY)
            await self._flush()

    async def _flush(self) -> None:
        if not self.results:
            return
        batch, self.results = self.results, []
        try:
            released = await asyncio.to_thread(record_outcomes, self.ctx.engine, batch,
                                               self.limits)
        except Exception:
            # Leases expire and the rows are tried again: at-least-once delivery.
            log.exception("recording %d delivery outcomes failed", len(batch))
            return
        # A released host's queue is due now; and once nothing is in flight, the loop
        # may sleep until the next retry, which these outcomes may have just set.
        if released:
            self.ctx.delivery_wakeup.set()  # other processes' workers too
        elif not self.inflight:
            self.ctx.delivery_wakeup.set_local()


def _bodies(engine: Engine, ids: set[int]) -> dict[int, tuple[bytes, str]]:
    from node.models import LocalActor

    with Session(engine) as s:
        rows = s.exec(
            select(OutboxItem.id, OutboxItem.body, LocalActor.handle)  # type: ignore[call-overload]
            .join(LocalActor, LocalActor.id == OutboxItem.actor_id)
            .where(OutboxItem.id.in_(ids))  # type: ignore[union-attr]
        ).all()
    return {r[0]: (r[1].encode(), r[2]) for r in rows}


def _healthy_recently(peer: PeerHost, now: datetime) -> bool:
    last = peer.last_success_at
    return (breaker.state_of(peer).clean and last is not None
            and (now - aware(last)).total_seconds() < 60)


def _ok(res: Outcome) -> bool:
    return isinstance(res, sender.SendResult) and res.status is not None \
        and 200 <= res.status < 300


def _event(res: Outcome, probe: bool) -> breaker.Event | None:
    """What one outcome says about the host (None: nothing)."""
    if isinstance(res, LocalFailure):
        return "probe_void" if probe else None
    if res.status is not None and (200 <= res.status < 300 or is_permanent(res.status)):
        return "success"  # it answered: it is alive
    if res.status is None or res.status >= 500:
        return "probe_failure" if probe else "failure"
    # 401/408/429 and the like: alive but not taking this now. As a probe it asks for
    # the longer wait; otherwise it says nothing about the host.
    return "probe_failure" if probe else None


def _retry(row: Any, res: Outcome, limits: Limits, now: datetime,
           probe: bool) -> dict[str, Any]:
    """The row's new values after anything but a 2xx."""
    local = isinstance(res, LocalFailure)
    status = None if isinstance(res, LocalFailure) else res.status
    error = f"{breaker.LOCAL_ERROR}{res.error}" if local else res.error
    values: dict[str, Any] = {"last_status": status, "last_error": error, "lease_owner": None,
                              "lease_until": None, "updated_at": now}
    if probe and aware(row.next_attempt_at) > now:
        return values  # sent early for the breaker: not one of the row's own attempts
    attempts = values["attempts"] = row.attempts + 1
    if status is not None and is_permanent(status):
        values["state"] = "failed"
    elif attempts >= limits.max_attempts:
        values["state"] = "failed"
    else:
        wait = None if local else retry_after_seconds(res.retry_after)  # type: ignore[union-attr]
        values["next_attempt_at"] = next_attempt(now, attempts, wait, limits.backoff_base,
                                                 transient=status is None)
    return values


def _probe_failed_for_all(s: Session, host: str, res: Outcome, limits: Limits,
                          now: datetime) -> None:
    """The failed probe was the attempt of every row of the host that was due."""
    status = None if isinstance(res, LocalFailure) else res.status
    due = and_(col(Delivery.host) == host, col(Delivery.state) == "queued",
               col(Delivery.next_attempt_at) <= now,
               or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) < now))
    counts = s.execute(select(col(Delivery.attempts)).where(due).distinct()).scalars().all()
    for attempts in sorted(counts, reverse=True):
        n = attempts + 1
        values: dict[str, Any] = {"attempts": n, "last_status": status,
                                  "last_error": res.error, "updated_at": now}
        if n >= limits.max_attempts:
            values["state"] = "failed"
        else:
            values["next_attempt_at"] = next_attempt(now, n, None, limits.backoff_base,
                                                     transient=status is None)
        s.execute(update(Delivery).where(due, col(Delivery.attempts) == attempts)
                  .values(**values))


def record_outcomes(engine: Engine, batch: list[tuple[Any, Outcome]], limits: Limits,
                    now: datetime | None = None) -> set[str]:
    """Store what happened to a batch of sends; returns the hosts whose queue was released."""
    now = now or utcnow()
    by_host: dict[str, list[tuple[Any, Outcome]]] = defaultdict(list)
    for row, res in batch:
        by_host[row.host].append((row, res))
    released: set[str] = set()
    clean: set[str] = set()
    failing: set[str] = set()
    with Session(engine) as s:
        # Peers first, in host order: the same lock order as every other writer of
        # peer_host, so two workers never deadlock on PostgreSQL.
        peers = breaker.lock_peers(s, by_host)
        _mark_delivered(s, batch, now)
        for host, items in by_host.items():
            peer = peers[host]
            turn = _HostTurn(breaker.state_of(peer))
            _record_rows(s, turn, items, limits, now)
            if turn.trip is not None:
                _probe_failed_for_all(s, host, turn.trip, limits, now)
            # An answer after failures, held or not yet: the host is back, and rows
            # that failed while it came back (in flight at its restart, fewer than
            # the breaker's threshold) must not wait out their own backoff.
            if not turn.before.clean and turn.state.clean:
                released.add(host)
            (clean if turn.state.clean else failing).add(host)
            _record_peer(s, host, peer, turn, limits, now)
        breaker.release(s, released, now)
        s.commit()
    watch = breaker.watch_of(engine)
    watch.settle(clean, failing)
    if released:
        log.info("%s answered: breaker closed, queue released", ", ".join(sorted(released)))
        watch.wake()
    return released


# Built once (issue 11): every answered batch marks its rows with it. Run through Core:
# the session holds none of these rows, so there is nothing of its own to bring in line.
_DELIVERED = update(Delivery).where(col(Delivery.id).in_(bindparam("ids", expanding=True))
                                    ).values(
    state="delivered", attempts=col(Delivery.attempts) + 1, last_status=bindparam("answer"),
    last_error="", lease_owner=None, lease_until=None, updated_at=bindparam("at"))


def _mark_delivered(s: Session, batch: list[tuple[Any, Outcome]], now: datetime) -> None:
    """The common case: one statement per answer status for the whole batch."""
    by_status: dict[int, list[int]] = defaultdict(list)
    for row, res in batch:
        if _ok(res):
            by_status[int(res.status or 0)].append(row.id)  # type: ignore[union-attr]
    conn = s.connection()
    for status, ids in by_status.items():
        conn.execute(_DELIVERED, {"ids": ids, "answer": status, "at": now})


@dataclass
class _HostTurn:
    """One host's breaker across the outcomes of a batch, and what they said."""

    before: breaker.State
    state: breaker.State = field(init=False)
    answered: datetime | None = None
    last_failure: Outcome | None = None
    # The failed probe that opened the breaker again, if one did.
    trip: Outcome | None = None

    def __post_init__(self) -> None:
        self.state = self.before


def _record_rows(s: Session, turn: _HostTurn, items: list[tuple[Any, Outcome]],
                 limits: Limits, now: datetime) -> None:
    """Each failed row's retry, and each outcome's step of the host's breaker."""
    for row, res in items:
        probe = turn.state.breaker == breaker.HALF_OPEN and turn.state.probe_id == row.id
        if not _ok(res):
            s.execute(update(Delivery).where(col(Delivery.id) == row.id)
                      .values(**_retry(row, res, limits, now, probe)))
        event = _event(res, probe)
        if event is None:
            continue
        turn.state = breaker.step(turn.state, event, now, limits.breaker)
        if event == "success":
            turn.answered = now
        elif event != "probe_void":
            turn.last_failure = res
            if event == "probe_failure" and turn.state.breaker == breaker.OPEN:
                turn.trip = res


def _record_peer(s: Session, host: str, peer: PeerHost, turn: _HostTurn, limits: Limits,
                 now: datetime) -> None:
    if turn.state == turn.before and (turn.answered is None
                                      or _healthy_recently(peer, now)):
        return  # nothing new to record; spare the write
    breaker.store(peer, turn.state)
    if turn.answered is not None:
        peer.last_success_at = turn.answered
    if turn.last_failure is not None:
        peer.last_error = turn.last_failure.error
        peer.last_error_at = now
    if turn.state.breaker == breaker.OPEN and turn.before.breaker != breaker.OPEN:
        log.warning("%s: breaker open for %.0f s after %d failures (%s)", host,
                    limits.breaker.cooldown_for(turn.state.trips), turn.state.failures,
                    peer.last_error)
    s.add(peer)
