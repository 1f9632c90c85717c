"""One process of a node at a time for a loop that gains nothing from company.

A node may run several processes on one machine (`serve --workers N`, `comuna
worker`). Every one of them stores what arrives at the inbox, but two inbox
processors only take turns at the database's write lock with each other and with the
stores: measured with `--workers 2` under a flood, one processor let the node store
more (docs/benchmarks.md). So the processor runs in the process holding an advisory
lock on a file of the data directory; the others try again every second, and the
lock ends with its holder however it ends (a crash or a SIGKILL included), so another
process takes over within a second. The lock is an economy, not a guarantee:
processes on other machines sharing a PostgreSQL database do not see it, and the
processors' claims are safe side by side without it.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from node.waiting import first_of

log = logging.getLogger("comuna.leader")

RETRY_SECONDS = 1.0


def try_hold(path: Path) -> int | None:
    """The open file holding the lock, or None when another open file holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


async def one_at_a_time(path: Path, stop: asyncio.Event, run: Callable[[], Awaitable[None]],
                        retry: float = RETRY_SECONDS) -> None:
    """Run `run` (which returns once `stop` is set) while holding the lock at `path`;
    until the lock is free, look again every `retry` seconds."""
    waited = False
    while not stop.is_set():
        try:
            fd = try_hold(path)
        except OSError as exc:
            # No lock to be had here (a read-only or odd file system): run as before
            # the lock existed, every process with its processor.
            log.warning("cannot lock %s (%s): running without it", path, exc)
            await run()
            return
        if fd is None:
            if not waited:
                log.info("%s is held by another process of this node: waiting", path.name)
                waited = True
            await first_of(stop, timeout=retry)
            continue
        try:
            if waited:
                log.info("%s taken over by process %d", path.name, os.getpid())
            await run()
        finally:
            os.close(fd)  # closing the only descriptor of the lock ends it
        return
