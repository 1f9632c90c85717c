"""Waiting for the first of several asyncio events, or a timeout: how the background
loops sleep between passes while staying wakeable (a stop, a wake-up)."""

from __future__ import annotations

import asyncio
import contextlib


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
