"""Running a node's background loops for a bounded time inside a test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import update
from sqlmodel import Session, col, select

from node.activitypub import keys
from node.config import Settings
from node.context import NodeContext, build_context
from node.inbox.processor import InboxProcessor
from node.models import Delivery, InboxItem
from node.models.base import utcnow
from node.outbox.delivery import DeliveryWorker

_Row = TypeVar("_Row")


def inbox_idle(ctx: NodeContext) -> bool:
    """Nothing in the node's inbox waits to be processed."""
    with Session(ctx.engine) as s:
        return s.exec(select(InboxItem.id).where(col(InboxItem.state) == "queued")
                      ).first() is None


def deliveries_tried(ctx: NodeContext) -> bool:
    """Every delivery due now has had at least its first try."""
    with Session(ctx.engine) as s:
        return s.exec(select(Delivery.id).where(
            col(Delivery.state) == "queued", col(Delivery.attempts) == 0,
            col(Delivery.next_attempt_at) <= utcnow())).first() is None


def inbox_settled(settings: Settings) -> None:
    """Run the node's loops until its inbox is processed and every answer it queued (a
    Reject among them) has had its first try: the tests then read what reached the
    other side, which a bare inbox check left to a race."""
    run_loops(settings, lambda ctx: inbox_idle(ctx) and deliveries_tried(ctx))


def run_loops(settings: Settings, until: Callable[[NodeContext], bool], timeout: float = 20.0,
              delivery: bool = True, inbox: bool = True) -> NodeContext:
    """Run delivery/inbox loops until `until(ctx)` holds; fail the test on timeout."""

    async def main() -> NodeContext:
        ctx = build_context(settings)
        stop = asyncio.Event()
        tasks = []
        if delivery:
            tasks.append(asyncio.create_task(DeliveryWorker(ctx).run(stop)))
        if inbox:
            tasks.append(asyncio.create_task(InboxProcessor(ctx).run(stop)))
        deadline = time.monotonic() + timeout
        try:
            while True:
                ok = await asyncio.to_thread(until, ctx)
                if ok:
                    return ctx
                if time.monotonic() > deadline:
                    raise AssertionError("condition not reached in time")
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            ctx.delivery_wakeup.set()
            ctx.inbox_wakeup.set()
            await asyncio.gather(*tasks)
            await ctx.fetcher.client.aclose()

    return asyncio.run(main())


def deliveries(ctx_or_engine: Any) -> list[Delivery]:
    engine = getattr(ctx_or_engine, "engine", ctx_or_engine)
    with Session(engine) as s:
        return list(s.exec(select(Delivery).order_by(col(Delivery.id))).all())


def make_due(engine: Any) -> None:
    """Pretend the backoff has passed, without waiting for it."""
    with Session(engine) as s:
        s.execute(update(Delivery).where(col(Delivery.state) == "queued")
                  .values(next_attempt_at=utcnow()))
        s.commit()


def refused(response: Any, status: int) -> bool:
    """A form the pages refused: the browser was sent back (303) to a page that says
    why, with the refusal's HTTP status on the notice."""
    return (bool(response.history) and response.history[-1].status_code == 303
            and f'role="alert" data-status="{status}"' in response.text)


def stored(s: Session, model: type[_Row], key: Any) -> _Row:
    """The row of `model` under `key`, which the test expects to exist."""
    row = s.get(model, key)
    assert row is not None, f"no {model.__name__} {key!r}"
    return row


class _Identified(Protocol):
    id: int | None


def id_of(row: _Identified) -> int:
    """The id of a row the test has stored (flushed), so the database gave it one."""
    assert row.id is not None, f"{type(row).__name__} has no id: not stored yet"
    return row.id


def ed25519_key(multibase: str) -> Ed25519PublicKey:
    """The Ed25519 public key a `publicKeyMultibase` names (proofs are only Ed25519)."""
    key = keys.decode_multibase_public(multibase)
    assert isinstance(key, Ed25519PublicKey), f"not an Ed25519 key: {type(key).__name__}"
    return key
