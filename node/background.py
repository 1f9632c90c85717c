"""The node's background loops, each imported when it first has something to do.

The inbox processor (with every activity's handler), the vote clock, the retry of
matters waiting to be sent up and the economy pass import most of the domain: about
3 MB of an idle node's memory, which a node that has received nothing, and has no
proposal and no offer or need, does not use.
Until then a small gate looks every tick (and at the loop's wake-up) whether the
tables the loop reads hold a row: if none does, the loop would find nothing to do.
Once one does, the loop is imported and runs for the rest of the process, with the
same wake-ups and ticks as when it was started directly. A node with history starts
them at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from sqlalchemy import literal, select
from sqlmodel import SQLModel

from node.context import NodeContext
from node.models import InboxItem, Intent, JointPlan, Proposal
from node.waiting import first_of

log = logging.getLogger("comuna.background")

Loop = Callable[[NodeContext, asyncio.Event], Awaitable[None]]
# The vote clock's tick (the default of `governance.clock.run`, which this module must
# not import to read it).
VOTE_TICK = 15.0


def has_rows(ctx: NodeContext, tables: tuple[type[SQLModel], ...]) -> bool:
    with ctx.engine.connect() as c:
        return any(c.execute(select(literal(1)).select_from(table).limit(1)).first()
                   is not None for table in tables)


async def when_needed(ctx: NodeContext, stop: asyncio.Event,
                      tables: tuple[type[SQLModel], ...], wakeup: asyncio.Event | None,
                      every: float | Callable[[], float], start: Loop) -> None:
    """Run `start` once any of `tables` has a row; look again at every `wakeup` and
    every `every` seconds until then."""
    while not stop.is_set():
        if wakeup is not None:
            # Cleared before the look: a row stored after it sets it again.
            wakeup.clear()
        try:
            found = await asyncio.to_thread(has_rows, ctx, tables)
        except Exception:  # the database is away: look again at the next tick
            log.exception("looking for background work failed")
            found = False
        if found:
            # Its first pass reads everything at once, without waiting for a tick.
            await start(ctx, stop)
            return
        await first_of(stop, *([wakeup] if wakeup is not None else []),
                       timeout=every() if callable(every) else every)


async def _inbox(ctx: NodeContext, stop: asyncio.Event) -> None:
    from node.inbox.processor import InboxProcessor
    from node.leader import one_at_a_time

    # One processor per machine at a time (node/leader.py); the others' stores wake
    # it through the wake bus.
    await one_at_a_time(ctx.settings.data_dir / "inbox-processor.lock", stop,
                        lambda: InboxProcessor(ctx).run(stop))


async def _proposals(ctx: NodeContext, stop: asyncio.Event) -> None:
    # The federations package first: it registers how member bodies decide, which
    # closing a federation's vote needs.
    from node.federations.retries import keep_sending_up
    from node.governance import clock

    await asyncio.gather(clock.run(ctx, stop), keep_sending_up(ctx, stop, VOTE_TICK))


async def _economy(ctx: NodeContext, stop: asyncio.Event) -> None:
    from node.economy import clock

    await clock.run(ctx, stop)


def loops(ctx: NodeContext, stop: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
    """The inbox processor, the vote clock, the send-up retries and the economy pass,
    each behind its gate.
    (Delivery is not gated: it is light until its first rows, see outbox/delivery.py.)"""
    return [
        # Every inbox row, whatever its state, is the processor's: rows left by a
        # previous run (queued, leased, waiting for a retry) start it at once.
        # Stored rows wake it (in this process or through the wake-up bus).
        when_needed(ctx, stop, (InboxItem,), ctx.inbox_wakeup,
                    ctx.idle_poll, _inbox),
        # Due votes and amendments, and matters waiting to be sent up, are proposals:
        # the vote clock and the send-up retries start together.
        when_needed(ctx, stop, (Proposal,), ctx.escalation_wakeup, VOTE_TICK, _proposals),
        # Offers and needs (to match, broker, send up) and joint plans (to answer).
        when_needed(ctx, stop, (Intent, JointPlan), ctx.economy_wakeup,
                    ctx.settings.economy_tick_seconds, _economy),
    ]
