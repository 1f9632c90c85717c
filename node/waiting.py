"""Waiting for the first of several asyncio events, or a timeout: how the background
loops sleep between passes while staying wakeable (a stop, a wake-up)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from node.models.base import utcnow

log = logging.getLogger("comuna.waiting")


async def first_of(*events: asyncio.Event, timeout: float) -> None:
    """Return once any of `events` is set, or after `timeout` seconds."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await w


def until_due(now: datetime, due: datetime | None, poll: float, idle: float) -> float:
    """How long a queue's loop may sleep after finding nothing to claim.

    `due` is the earliest moment a queued row could be claimed (None: nothing queued).
    Work queued later wakes the loop (in this process, or through the wake-up bus), so
    an idle loop only looks again after `idle` seconds, for work it cannot hear of (a
    process on another machine). A row that is due but was not claimed is held by
    someone (another worker's lease, a held host): it is looked at every `poll`.
    """
    if due is None:
        return idle
    ahead = (due - now).total_seconds()
    if ahead <= 0:
        return poll
    # A little late rather than early: waking just before the row is due finds nothing.
    return min(ahead + 0.01, idle)


async def until_next(find: Callable[[datetime], datetime | None], poll: float,
                     idle: float) -> float:
    """`until_due` with `find(now)` (a database read, run in a thread) saying when the
    next row is due; a failing read gives the short poll."""
    now = utcnow()
    try:
        due = await asyncio.to_thread(find, now)
    except Exception:
        log.exception("looking for the next work due failed")
        return poll
    return until_due(now, due, poll, idle)
