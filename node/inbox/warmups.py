"""Warming the federation graph after a matter arrives: a little later, and once for a
burst.

A matter passed down reaches every member of a federation at the same moment. Each
member then fetches the documents of the federations above the bodies it affects, so
that the decision they will sign verifies without a fetch. Done at once, those fetches
compete for the machine with the matter's own processing, and every member's land on
the same few nodes in the same second. Deferred by a random delay they come after the
burst and spread out; matters that arrive meanwhile and affect the same bodies warm
them once. Nothing waits on a warm-up: a body not yet warm is fetched when it is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Iterable

from node.context import NodeContext
from node.federations import graph
from node.waiting import first_of

# Seconds after a request that its warm-up starts: drawn in this range for each burst.
DELAY = (1.0, 4.0)


class WarmUps:
    def __init__(self, ctx: NodeContext, delay: tuple[float, float] = DELAY,
                 draw: Callable[[float, float], float] = random.uniform) -> None:
        self.ctx = ctx
        self.delay = delay
        self._draw = draw
        self._pending: dict[str, None] = {}
        self._asked = asyncio.Event()

    def ask(self, uris: Iterable[str]) -> None:
        """Warm the graph above `uris` soon (when `run` is running; else at `flush`)."""
        self._pending.update(dict.fromkeys(uris))
        self._asked.set()

    @property
    def pending(self) -> list[str]:
        return list(self._pending)

    async def flush(self) -> None:
        """Warm what is pending now."""
        uris, self._pending = list(self._pending), {}
        self._asked.clear()
        if uris:
            await graph.warm(self.ctx, uris)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await first_of(self._asked, stop, timeout=3600)
            if stop.is_set():
                return
            # What is asked during the wait joins this warm-up.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._draw(*self.delay))
            if stop.is_set():
                return
            await self.flush()
