"""The loop that sends up the matters left waiting when their deliberation opened.

What holds a matter back usually passes within seconds: our copy of a neighbour was
fetched just before its join was accepted (graph.REFRESH_AGE keeps us from fetching it
again at once), or the federation's node is restarting. So a newly waiting matter is
tried again after a few seconds, then less and less often, and at every tick of the
vote clock once the quick tries are spent: its members should not look at "waiting
for the federation" for a quarter of a minute when a few seconds would do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence

from node.context import NodeContext
from node.federations import escalation

log = logging.getLogger("comuna.federations")

# The first beyond graph.REFRESH_AGE, so that the copy that refused it is fetched again.
QUICK_TRIES = (6.0, 12.0)


async def _woken(stop: asyncio.Event, wakeup: asyncio.Event, timeout: float) -> bool:
    """Wait for `stop`, `wakeup` or `timeout`; True if `wakeup` came first."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await w
    return wakeup.is_set() and not stop.is_set()


async def keep_sending_up(ctx: NodeContext, stop: asyncio.Event, tick: float,
                          quick: Sequence[float] = QUICK_TRIES) -> None:
    """Until `stop`: try every waiting matter at each of the `quick` delays after one is
    newly left waiting (the escalation wake-up), and every `tick` seconds besides."""
    wakeup = ctx.escalation_wakeup
    # Quick tries from the start too: the loop may have been started by the very
    # wake-up of a matter just left waiting (node/background.py's gate watches it).
    delays: Iterator[float] = iter(quick)
    while not stop.is_set():
        wakeup.clear()  # before the tries: a matter left waiting by them sets it again
        try:
            await escalation.retry_pending(ctx)
        except Exception:  # the database is away: the next try reads again
            log.exception("sending up waiting matters failed")
        if await _woken(stop, wakeup, next(delays, tick)):
            delays = iter(quick)
            await _woken(stop, asyncio.Event(), next(delays))
