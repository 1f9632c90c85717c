"""An idle node sleeps: its loops look for work when woken, when a row falls due or a
held host may be probed, and otherwise only every `idle_poll_seconds`, not on a short
fixed poll (waking an idle process costs far more CPU than the look itself)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from node.config import Settings
from node.context import NodeContext, build_context
from node.models import Delivery, Follower, InboxItem, PeerHost
from node.models.base import utcnow
from node.outbox import breaker, delivery, status
from node.outbox.breaker import OPEN
from node.outbox.publish import post_note
from node.storage import wakebus
from node.storage.leases import next_due
from node.waiting import until_due
from tests.fakeremote import FakeRemote
from tests.helpers import deliveries, id_of, run_loops

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Both polls far longer than any wait below: only the due time can wake the loops.
LONG = {"delivery_poll_seconds": 30.0, "idle_poll_seconds": 30.0}


def test_the_wait_is_until_the_row_is_due_within_the_idle_poll() -> None:
    assert until_due(T0, None, poll=1.0, idle=15.0) == 15.0
    assert until_due(T0, T0 + timedelta(seconds=2), poll=1.0, idle=15.0) == pytest.approx(2.01)
    assert until_due(T0, T0 + timedelta(hours=1), poll=1.0, idle=15.0) == 15.0
    # Due already but not claimed: someone holds it; look again at the short poll.
    assert until_due(T0, T0 - timedelta(seconds=5), poll=1.0, idle=15.0) == 1.0


def _queue(ctx: NodeContext, host: str, n: int = 2) -> None:
    with Session(ctx.engine) as s:
        s.add(Follower(actor_id=id_of(ctx.primary), follower_uri=f"https://{host}/u/x",
                       inbox=f"https://{host}/inbox"))
        s.commit()
        for i in range(n):
            post_note(ctx.tx(s), ctx.primary, f"nota {i}")
        s.commit()


def _set_rows(ctx: NodeContext, **values: Any) -> None:
    with Session(ctx.engine) as s:
        s.execute(update(Delivery).values(**values))
        s.commit()


def _set_host(ctx: NodeContext, host: str, **values: Any) -> None:
    with Session(ctx.engine) as s:
        s.execute(update(PeerHost).where(col(PeerHost.host) == host).values(**values))
        s.commit()


def test_the_next_work_is_a_row_falling_due_or_a_held_host_s_probe(node: Settings) -> None:
    ctx = build_context(node)
    assert breaker.next_work_at(ctx.engine, T0) is None, "nothing queued"
    _queue(ctx, "uno.example")
    _set_rows(ctx, next_attempt_at=T0 + timedelta(seconds=40))
    assert breaker.next_work_at(ctx.engine, T0) == T0 + timedelta(seconds=40)

    # Held: its rows are not claimable, but its probe may go when the cooldown ends,
    # before they are due.
    with Session(ctx.engine) as s:
        breaker.lock_peers(s, ["uno.example"])
        s.commit()
    _set_host(ctx, "uno.example", breaker=OPEN, open_until=T0 + timedelta(seconds=7))
    assert breaker.next_work_at(ctx.engine, T0) == T0 + timedelta(seconds=7)
    _set_host(ctx, "uno.example", open_until=None)
    assert breaker.next_work_at(ctx.engine, T0) == T0, "a held host without a time: now"

    # A blocked host is never sent to: its rows wake nobody.
    _set_host(ctx, "uno.example", blocked=True)
    assert breaker.next_work_at(ctx.engine, T0) is None


def test_a_retry_goes_when_it_falls_due_not_at_the_next_poll(
        make_node: Callable[..., Settings], remote: FakeRemote) -> None:
    node = make_node(**LONG)
    ctx = build_context(node)
    with Session(ctx.engine) as s:
        s.add(Follower(actor_id=id_of(ctx.primary), follower_uri=f"{remote.base}/users/bob",
                       inbox=f"{remote.base}/users/bob/inbox"))
        s.commit()
        post_note(ctx.tx(s), ctx.primary, "asamblea el sábado")
        s.commit()
    remote.post_statuses = [(503, {"Retry-After": "1"})]
    started = time.monotonic()
    done = run_loops(node, lambda c: deliveries(c)[0].state == "delivered", timeout=10,
                     inbox=False)
    assert [p["status"] for p in remote.posts] == [503, 202]
    assert deliveries(done)[0].attempts == 2
    assert time.monotonic() - started < 10


def test_an_inbox_retry_is_processed_when_it_falls_due(
        make_node: Callable[..., Settings], remote: FakeRemote) -> None:
    node = make_node(**LONG)
    ctx = build_context(node)
    actor = remote.actor("ana")
    body = actor.activity("Like", obj=ctx.urls.actor(ctx.primary.handle))
    with Session(ctx.engine) as s:
        s.add(InboxItem(activity_id=body["id"], activity_type="Like", actor=actor.uri,
                        recipient=ctx.primary.handle, signer=actor.key_id,
                        body=json.dumps(body),
                        next_attempt_at=utcnow() + timedelta(seconds=1.5)))
        s.commit()

    def processed(c: NodeContext) -> bool:
        with Session(c.engine) as s:
            return all(r.state != "queued" for r in s.exec(select(InboxItem)).all())

    started = time.monotonic()
    run_loops(node, processed, timeout=10, delivery=False)
    assert 1.0 < time.monotonic() - started < 10
    assert next_due(ctx.engine, InboxItem) is None


def test_an_idle_worker_does_not_wake_on_a_fixed_poll(
        make_node: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a claim every poll and a flush tick twenty times a second, forever."""
    node = make_node(delivery_poll_seconds=0.05, idle_poll_seconds=30.0)
    claims: list[float] = []
    flushes: list[float] = []
    real_claim = delivery.claim_work

    def counting_claim(*args: Any, **kwargs: Any) -> list[Any]:
        claims.append(time.monotonic())
        return real_claim(*args, **kwargs)

    real_flush = delivery.DeliveryWorker._flush

    async def counting_flush(self: delivery.DeliveryWorker) -> None:
        flushes.append(time.monotonic())
        await real_flush(self)

    monkeypatch.setattr(delivery, "claim_work", counting_claim)
    monkeypatch.setattr(delivery.DeliveryWorker, "_flush", counting_flush)

    window: list[float] = []

    async def main() -> None:
        ctx = build_context(node)
        stop = asyncio.Event()
        task = asyncio.create_task(delivery.DeliveryWorker(ctx).run(stop))
        # For its first second on the bus a worker keeps the short poll: a sender lists
        # the sockets again only once a second, and could miss it until then.
        await asyncio.sleep(wakebus.RESCAN_SECONDS + 0.3)
        window.append(time.monotonic())
        await asyncio.sleep(1.5)
        window.append(time.monotonic())
        stop.set()
        await asyncio.wait_for(task, 5)
        await ctx.fetcher.client.aclose()

    asyncio.run(main())
    inside = [t for t in claims if window[0] <= t <= window[1]]
    # At most the look at the end of the first second's short poll.
    assert len(inside) <= 1, f"{len(inside)} claims in 1.5 s idle"
    ticks = [t for t in flushes if window[0] <= t <= window[1]]
    assert not ticks, f"{len(ticks)} flush ticks in 1.5 s idle"


def test_retrying_parked_deliveries_and_unblocking_a_host_wake_the_workers(
        node: Settings) -> None:
    ctx = build_context(node)
    _queue(ctx, "uno.example", n=1)
    _set_rows(ctx, state="failed")
    ctx.delivery_wakeup.clear()
    assert status.retry_failed(ctx.engine, "uno.example") == 1
    assert ctx.delivery_wakeup.is_set(), "requeued rows left for the idle poll"
    status.set_blocked(ctx.engine, "uno.example", True)
    ctx.delivery_wakeup.clear()
    status.set_blocked(ctx.engine, "uno.example", False)
    assert ctx.delivery_wakeup.is_set(), "an unblocked host's queue left for the idle poll"


def test_hearing_from_a_held_host_wakes_the_workers_of_every_process(
        node: Settings) -> None:
    """The inbox of a web process hears from the host; the worker that would send its
    queue may be another process, asleep until the host's cooldown would end."""
    ctx = build_context(node)
    _queue(ctx, "uno.example", n=1)
    with Session(ctx.engine) as s:
        breaker.lock_peers(s, ["uno.example"])
        s.commit()
    _set_host(ctx, "uno.example", breaker=OPEN, open_until=utcnow() + timedelta(hours=1))
    ctx.delivery_wakeup.clear()
    assert breaker.heard_from(ctx.engine, {"uno.example"}) == {"uno.example"}
    assert ctx.delivery_wakeup.is_set()


def test_a_held_host_whose_probe_cannot_go_does_not_keep_the_worker_polling(
        node: Settings) -> None:
    ctx = build_context(node)
    _queue(ctx, "uno.example:8443", n=1)
    with Session(ctx.engine) as s:
        breaker.lock_peers(s, ["uno.example:8443", "uno.example"])
        s.commit()
    _set_host(ctx, "uno.example:8443", breaker=OPEN, open_until=T0 - timedelta(seconds=5))
    # Only rows put back by an error of ours, not due for a minute: no probe before then.
    _set_rows(ctx, last_error="local: KeyError: 'maizal'",
              next_attempt_at=T0 + timedelta(seconds=60))
    assert breaker.next_work_at(ctx.engine, T0) == T0 + timedelta(seconds=60)
    # Every port of a blocked bare name is blocked: nothing may go at all.
    _set_host(ctx, "uno.example", blocked=True)
    assert breaker.next_work_at(ctx.engine, T0) is None


def test_a_worker_that_fails_while_starting_a_batch_ends_instead_of_hanging(
        node: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its outcome flusher ends with a stop; an error is not one, and `run` waited for
    it forever."""
    ctx = build_context(node)
    _queue(ctx, "uno.example", n=1)

    async def broken(self: delivery.DeliveryWorker, rows: list[Any]) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(delivery.DeliveryWorker, "_load_bodies", broken)

    async def main() -> None:
        worker = build_context(node)
        try:
            await asyncio.wait_for(delivery.DeliveryWorker(worker).run(asyncio.Event()), 10)
        finally:
            await worker.fetcher.client.aclose()

    with pytest.raises(RuntimeError, match="went away"):
        asyncio.run(main())
