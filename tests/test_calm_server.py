"""`comuna serve`'s server ticks once a second, renews the Date header at every tick,
and stops as soon as it is told to, not at its next tick."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from typing import Any

import pytest
import uvicorn

from node.cli import server as calm


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_signal_stops_the_server_at_once_and_every_tick_renews_the_date(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A tick far longer than the test: only the signal's wake-up can end it in time.
    monkeypatch.setattr(calm, "TICK_SECONDS", 30.0)
    server = calm.CalmServer(uvicorn.Config(_app, host="127.0.0.1", port=_free_port(),
                                            log_level="warning", lifespan="on"))
    counters: list[int] = []
    real_tick = server.on_tick

    async def on_tick(counter: int) -> bool:
        counters.append(counter)
        return await real_tick(counter)

    monkeypatch.setattr(server, "on_tick", on_tick)

    async def main() -> float:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        asked = time.monotonic()
        server.handle_exit(signal.SIGTERM, None)
        await asyncio.wait_for(task, 10)
        return time.monotonic() - asked

    # uvicorn raises the signals it caught again once it has stopped: let this one pass.
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        took = asyncio.run(main())
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert took < 5.0, f"stopped {took:.1f} s after the signal: it waited for the tick"
    # uvicorn renews the Date header when the counter is a multiple of ten.
    assert counters and all(c % 10 == 0 for c in counters)
