"""The economy's background pass, in `serve` and `worker`: match inside each body
what changed, broker what each federation holds, and send up what is due to rise.
A pass runs when something changed (`economy_wakeup`) or after a tick."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlmodel import Session, col, func, select

from node.context import NodeContext
from node.economy import broker, local, plans, rising
from node.models import Intent, LocalActor
from node.models.base import aware, utcnow

log = logging.getLogger("comuna.economy")


def next_rise(ctx: NodeContext) -> datetime | None:
    with Session(ctx.engine) as s:
        return s.exec(select(func.min(Intent.rise_at)).where(
            Intent.state == "open", col(Intent.rise_at).is_not(None))).one()


def one_pass(ctx: NodeContext, since: datetime) -> tuple[int, int, int]:
    """(exchanges inside bodies, exchanges brokered, intents sent up and plans
    answered)."""
    inside = brokered = risen = 0
    with Session(ctx.engine) as s:
        changed = s.exec(select(Intent.holder_id, func.max(Intent.received_from)).where(
            col(Intent.updated_at) >= since).group_by(col(Intent.holder_id))).all()
        for holder_id, received in changed:
            body = s.get(LocalActor, holder_id)
            if body is None:
                continue
            inside += len(local.match(s, ctx.urls, body))
            if received:
                brokered += len(broker.run(s, ctx.urls, body))
        for row in rising.due(s, utcnow()):
            risen += bool(rising.rise(s, ctx.urls, row))
        # Joint plans whose proposal the body has decided get the body's answer.
        risen += plans.answer_decided(s, ctx.urls)
        s.commit()
    return inside, brokered, risen


async def run(ctx: NodeContext, stop: asyncio.Event) -> None:
    since = datetime(1970, 1, 1, tzinfo=UTC)
    while not stop.is_set():
        ctx.economy_wakeup.clear()
        started = utcnow()
        try:
            inside, brokered, risen = await asyncio.to_thread(one_pass, ctx, since)
            since = started
            if inside or brokered or risen:
                log.info("economy: %d matched inside, %d brokered, %d sent up", inside,
                         brokered, risen)
                ctx.delivery_wakeup.set()
        except Exception:  # the next pass tries again from the same point
            log.exception("economy pass failed")
        wait = ctx.settings.economy_tick_seconds
        try:
            due = await asyncio.to_thread(next_rise, ctx)
            if due is not None:
                # Wake when the next offer or need is due to rise, not a tick later.
                wait = min(wait, max((aware(due) - utcnow()).total_seconds(), 0.0) + 0.05)
        except Exception:
            log.exception("reading the next rise failed")
        try:
            await asyncio.wait_for(_either(ctx.economy_wakeup, stop), wait)
        except TimeoutError:
            pass


async def _either(a: asyncio.Event, b: asyncio.Event) -> None:
    ta, tb = asyncio.create_task(a.wait()), asyncio.create_task(b.wait())
    try:
        await asyncio.wait({ta, tb}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Also when the caller's timeout cancels us: no waiter may outlive the wait.
        ta.cancel()
        tb.cancel()


