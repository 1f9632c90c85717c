"""A wake-up for many waiters: every open event stream of this process.

A loop's `Wakeup` (node/context.py) is one asyncio.Event that its one loop clears;
event streams are many, come and go, and each must learn of every commit that wrote
events, even one that happened while it was reading the database. So each waiter
remembers the `generation` it last read at and waits for it to change: a commit
between its read and its wait is not lost. `set` may be called from any thread (the
after-commit hooks run in whichever thread committed) and wakes waiters on any loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Protocol


class Notifier(Protocol):
    def notify(self, topic: str) -> None: ...


class Broadcast:
    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.bus: Notifier | None = None
        self.generation = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    def set(self) -> None:
        """Wake this process's waiters and, through the bus, other processes' ones."""
        self.set_local()
        if self.bus is not None:
            self.bus.notify(self.topic)

    def set_local(self) -> None:
        with self._lock:
            self.generation += 1
            waiters, self._waiters = self._waiters, set()
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile
                loop.call_soon_threadsafe(_wake, fut)

    async def wait_past(self, generation: int, timeout: float) -> bool:
        """Wait until a `set` after `generation` (True) or `timeout` seconds (False)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        entry = (loop, fut)
        with self._lock:
            if self.generation != generation:
                return True
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(entry)


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
