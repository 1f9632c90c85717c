"""Keeping a long-running node process small (glibc only; elsewhere a no-op).

A burst (an inbox flood, a delivery to thousands of inboxes) leaves freed memory in
malloc's heaps and in the per-thread arenas of the thread pools; glibc keeps it
unless asked. So a process limits itself to two arenas before its threads start,
and gives back what is free once a burst has passed. Measured in
docs/benchmarks.md ("Memory and the post command").
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
from typing import Any

log = logging.getLogger("comuna.memory")
M_ARENA_MAX = -8  # from glibc's malloc.h
ARENAS = 2
# Checked this often; a trim runs when the resident size grew by this much since the
# last one, and not while it is still growing (the burst is not over).
CHECK_EVERY = 15.0
GROWTH_BYTES = 4 * 1024 * 1024


def _glibc() -> Any | None:
    try:
        os.confstr("CS_GNU_LIBC_VERSION")
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except (ValueError, OSError, AttributeError):
        return None


def limit_arenas() -> bool:
    """At most two malloc arenas for this process (the default allows eight per core,
    each holding on to its own free memory). Call before threads start."""
    libc = _glibc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, ARENAS) == 1)


def resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def trim() -> None:
    """Give the free memory of every arena back to the system."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


# The stop events of the trimmers running in this process: one at a time. The resident
# size is the process's, and a process holding many nodes (the federation benchmark's
# hosts, 28 each) ran a trimmer per node, all set off by the same resident size: each a
# full garbage collection on the loop and a walk over the heaps, while every node of the
# process waited (a first contact there once waited 6 s; issue 11, thirteenth session).
_RUNNING: list[asyncio.Event] = []


async def trim_after_bursts(stop: asyncio.Event, every: float = CHECK_EVERY,
                            growth: int = GROWTH_BYTES) -> None:
    if _glibc() is None or _RUNNING:
        return
    _RUNNING.append(stop)
    try:
        await _trim_after_bursts(stop, every, growth)
    finally:
        _RUNNING.remove(stop)


async def _trim_after_bursts(stop: asyncio.Event, every: float, growth: int) -> None:
    baseline = previous = resident_bytes()
    # Once more a while after a trim: what a burst leaves behind is freed late too
    # (kept-alive connections close after their idle timeout).
    follow_up = False
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
        now = resident_bytes()
        settled = now <= previous
        previous = now
        if settled and (follow_up or now - baseline >= growth):
            follow_up = not follow_up and now - baseline >= growth
            gc.collect()
            # ctypes lets go of the GIL: the walk over the heaps runs beside the loop.
            await asyncio.to_thread(trim)
            baseline = previous = resident_bytes()
            log.debug("trimmed after a burst: %.1f MB resident", baseline / 2**20)
        elif now < baseline:
            baseline = now
