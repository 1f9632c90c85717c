"""uvicorn's server with a calmer main loop, for `comuna serve`.

uvicorn's loop wakes ten times a second to see whether it should stop and, every tenth
time, to renew the Date header. On the small shared machines nodes run on, waking an
idle process costs far more CPU than the few lines it runs (its memory has gone cold:
bench/cold_memory.py), and those ticks were about half of what an idle node spent. This
loop ticks once a second, which keeps the Date header as fresh as before, and a signal
to stop wakes it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import FrameType

import uvicorn

TICK_SECONDS = 1.0
# uvicorn renews the Date header on the ticks whose counter is a multiple of ten.
_HEADER_EVERY = 10


class CalmServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK_SECONDS)
            counter = (counter + _HEADER_EVERY) % 864_000
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            # A signal handler runs between two bytecodes of the loop's thread, perhaps
            # while the loop sleeps in its selector: only this wakes it.
            loop.call_soon_threadsafe(wake.set)


def serve(config: uvicorn.Config) -> bool:
    """Run one process's server until it is told to stop; whether it had started.
    (Several worker processes are uvicorn's own supervisor, with its own loop.)"""
    server = CalmServer(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return server.started
