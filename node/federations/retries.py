"""The loop that sends up the matters left waiting when their deliberation opened.

What holds a matter back usually passes within seconds: our copy of a neighbour was
fetched just before its join was accepted (graph.REFRESH_AGE keeps us from fetching it
again at once), or the federation's node is restarting. So a newly waiting matter is
tried again a few seconds after it was left waiting, then a little later, and then at
this loop's own tick: its members should not look at "waiting for the federation"
for a quarter of a minute when a few seconds would do.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence

from node.context import NodeContext
from node.federations import escalation
from node.waiting import first_of

log = logging.getLogger("comuna.federations")

# Seconds between tries after a matter is newly left waiting. The first is past
# graph.REFRESH_AGE, so that the copy that refused it is fetched again.
QUICK_TRIES = (6.0, 12.0)
# Up to this share is added to each quick delay: the wake-up reaches every process of
# the node, which should not all try the same matter at the same instant.
JITTER = 0.2


async def _woken(stop: asyncio.Event, wakeup: asyncio.Event, timeout: float) -> bool:
    """Wait for `stop`, `wakeup` or `timeout`; True if `wakeup` came first."""
    await first_of(stop, wakeup, timeout=timeout)
    return wakeup.is_set() and not stop.is_set()


async def keep_sending_up(ctx: NodeContext, stop: asyncio.Event, tick: float,
                          quick: Sequence[float] = QUICK_TRIES) -> None:
    """Until `stop`: try every waiting matter `quick[0]` seconds after one is newly
    left waiting (the escalation wake-up, which restarts the count), then after each
    further delay of `quick`, and every `tick` seconds besides. The loop starts with
    the quick tries too: the first matter's wake-up may be what started it."""
    clock = asyncio.get_running_loop()
    wakeup = ctx.escalation_wakeup
    delays = list(quick)

    def next_delay() -> float:
        if not delays:
            return tick
        return delays.pop(0) * random.uniform(1.0, 1.0 + JITTER)

    while not stop.is_set():
        if wakeup.is_set():  # woken just as the wait ended: that matter's quick tries
            delays[:] = quick
        wakeup.clear()  # before the tries: a matter left waiting by them sets it again
        try:
            await escalation.retry_pending(ctx)
        except Exception:  # the database is away: the next try reads again
            log.exception("sending up waiting matters failed")
        delay = next_delay()
        # A matter newly waiting restarts the quick tries, but never puts the next
        # try off beyond one tick: a stream of them cannot starve the older ones.
        latest = clock.time() + tick
        while await _woken(stop, wakeup, delay):
            wakeup.clear()
            delays[:] = quick
            delay = min(next_delay(), max(0.0, latest - clock.time()))
