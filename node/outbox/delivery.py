"""The delivery worker: claims due rows, signs, posts, records the outcome.

A row's life: queued → delivered, or queued → (retries with backoff) → failed.
Per-host concurrency is capped and a circuit breaker stops claiming rows for a
host that keeps failing, so one dead peer never slows delivery to the others.
Outcomes are written in batches to keep the database out of the hot path.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlmodel import Session, col

from node.context import NodeContext
from node.federation.httpsig.sign import sign_cavage
from node.models import Delivery, OutboxItem, PeerHost
from node.models.base import utcnow
from node.outbox import sender
from node.outbox.backoff import is_permanent, next_attempt, retry_after_seconds
from node.storage.leases import claim

log = logging.getLogger("comuna.delivery")
LEASE_SECONDS = 120.0
FLUSH_EVERY = 0.05


def _open_hosts_filter() -> Any:
    now = utcnow()
    bad = select(col(PeerHost.host)).where(
        or_(col(PeerHost.blocked).is_(True),
            and_(col(PeerHost.open_until).is_not(None), col(PeerHost.open_until) > now))
    )
    return col(Delivery.host).not_in(bad)


class DeliveryWorker:
    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        s = ctx.settings
        self.concurrency = s.delivery_concurrency
        self.host_limits: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(s.delivery_per_host))
        self.inflight = 0
        self.results: list[tuple[Any, sender.SendResult]] = []
        self.bodies: OrderedDict[int, tuple[bytes, str]] = OrderedDict()
        self.session: Any = None
        self._slots = asyncio.Semaphore(self.concurrency)

    async def run(self, stop: asyncio.Event) -> None:
        s = self.ctx.settings
        self.session = sender.make_session(s.allow_private_networks, s.delivery_timeout,
                                           self.concurrency)
        flusher = asyncio.create_task(self._flush_loop(stop))
        try:
            while not stop.is_set():
                # Keep up to one batch claimed ahead of the requests in flight, so the
                # claim round-trips overlap with sending.
                free = 2 * self.concurrency - self.inflight
                rows = []
                # Cleared before looking, not after: a publish that lands while we
                # claim sets it again, so the wait below returns at once instead of
                # sleeping a whole poll interval on work that is already there.
                self.ctx.delivery_wakeup.clear()
                if free > 0:
                    try:
                        rows = await asyncio.to_thread(
                            claim, self.ctx.engine, Delivery, free, LEASE_SECONDS,
                            _open_hosts_filter())
                    except Exception:
                        log.exception("claiming deliveries failed")
                if rows:
                    await self._load_bodies(rows)
                    for row in rows:
                        self.inflight += 1
                        asyncio.create_task(self._deliver(row))
                    continue
                try:
                    await asyncio.wait_for(self.ctx.delivery_wakeup.wait(),
                                           s.delivery_poll_seconds if free > 0 else 0.05)
                except TimeoutError:
                    pass
        finally:
            while self.inflight:
                await asyncio.sleep(0.05)
            await flusher
            await self._flush()
            await self.session.close()

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
            body, handle = self.bodies[row.outbox_id]
            async with self.host_limits[row.host], self._slots:
                key = self.ctx.signing_key(handle)
                headers = sign_cavage("POST", row.inbox, key.key_id, key.private, body=body,
                                      headers={"Content-Type": "application/activity+json"})
                result = await sender.post(self.session, row.inbox, body, headers,
                                           self.ctx.settings.allow_private_networks)
        except Exception as exc:
            result = sender.SendResult(None, None, f"{type(exc).__name__}: {exc}")
        self.results.append((row, result))
        self.inflight -= 1

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set() or self.inflight:
            await asyncio.sleep(FLUSH_EVERY)
            await self._flush()

    async def _flush(self) -> None:
        if not self.results:
            return
        batch, self.results = self.results, []
        try:
            s = self.ctx.settings
            await asyncio.to_thread(record_outcomes, self.ctx.engine, batch,
                                    s.delivery_max_attempts, s.breaker_threshold,
                                    s.breaker_cooldown, s.delivery_backoff_base)
        except Exception:
            # Leases expire and the rows are tried again: at-least-once delivery.
            log.exception("recording %d delivery outcomes failed", len(batch))


def _bodies(engine: Engine, ids: set[int]) -> dict[int, tuple[bytes, str]]:
    from node.models import LocalActor

    with Session(engine) as s:
        rows = s.exec(
            select(OutboxItem.id, OutboxItem.body, LocalActor.handle)  # type: ignore[call-overload]
            .join(LocalActor, LocalActor.id == OutboxItem.actor_id)
            .where(OutboxItem.id.in_(ids))  # type: ignore[union-attr]
        ).all()
    return {r[0]: (r[1].encode(), r[2]) for r in rows}


def _healthy_recently(peer: PeerHost, now: Any) -> bool:
    last = peer.last_success_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    return (peer.consecutive_failures == 0 and peer.open_until is None and last is not None
            and (now - last).total_seconds() < 60)


def record_outcomes(engine: Engine, batch: list[tuple[Any, sender.SendResult]],
                    max_attempts: int, threshold: int, cooldown: float,
                    backoff_base: float) -> None:
    now = utcnow()
    host_ok: dict[str, bool] = {}
    host_err: dict[str, str] = {}
    delivered = [(row, res) for row, res in batch
                 if res.status is not None and 200 <= res.status < 300]
    others = [(row, res) for row, res in batch
              if not (res.status is not None and 200 <= res.status < 300)]
    with Session(engine) as s:
        # The common case: one statement per answer status for the whole batch.
        by_status: dict[int, list[int]] = defaultdict(list)
        for row, res in delivered:
            by_status[int(res.status or 0)].append(row.id)
        for status, ids in by_status.items():
            s.execute(update(Delivery).where(col(Delivery.id).in_(ids)).values(
                state="delivered", attempts=Delivery.attempts + 1, last_status=status,
                last_error="", lease_owner=None, lease_until=None, updated_at=now))
        for row, _ in delivered:
            host_ok.setdefault(row.host, True)
        for row, res in others:
            attempts = row.attempts + 1
            values: dict[str, Any] = {"attempts": attempts, "last_status": res.status,
                                      "last_error": res.error, "lease_owner": None,
                                      "lease_until": None, "updated_at": now}
            if res.status is not None and is_permanent(res.status):
                values["state"] = "failed"
                host_ok.setdefault(row.host, True)  # the host answered; it is alive
            else:
                if res.status is None or res.status >= 500:
                    host_ok[row.host] = False
                    host_err[row.host] = res.error
                if attempts >= max_attempts:
                    values["state"] = "failed"
                else:
                    values["next_attempt_at"] = next_attempt(
                        now, attempts, retry_after_seconds(res.retry_after), backoff_base,
                        transient=res.status is None)
            s.execute(update(Delivery).where(col(Delivery.id) == row.id).values(**values))
        for host, ok in host_ok.items():
            peer = s.get(PeerHost, host) or PeerHost(host=host)
            if ok and _healthy_recently(peer, now):
                continue  # nothing new to record; spare the write
            if ok:
                peer.consecutive_failures = 0
                peer.open_until = None
                peer.last_success_at = now
            else:
                peer.consecutive_failures += 1
                peer.last_error = host_err.get(host, "")
                peer.last_error_at = now
                if peer.consecutive_failures >= threshold:
                    peer.open_until = now + timedelta(seconds=cooldown)
            s.add(peer)
        s.commit()
