"""App variants for the inbox benchmark, loaded by uvicorn worker processes."""

from __future__ import annotations

import cProfile
import os
import time
from typing import Any

from node.app import create_app


def floor_app() -> Any:
    """The same server, signature check included, answering 202 without storing."""
    return create_app(store_inbox=False, background=False)


def profiled_app() -> Any:
    """The node as `comuna serve` builds it, with the event-loop thread under cProfile
    and wall-clock counters around the group commit and each processing pass; written
    to COMUNA_PROFILE_DIR at shutdown. For finding where a flood's time goes."""
    from node.inbox import processor as processor_module
    from node.inbox.processor import InboxProcessor
    from node.inbox.writer import InboxWriter
    from node.storage import db, leases

    out = os.environ.get("COMUNA_PROFILE_DIR", "/tmp")
    counters: dict[str, list[float]] = {"commit": [0, 0.0, 0], "pass": [0, 0.0, 0],
                                        "alone": [0, 0.0, 0], "claim": [0, 0.0, 0]}
    # Each call's seconds, for the slow tail (a commit that ran a WAL checkpoint, a wait
    # for the write lock) that the totals hide.
    spans: dict[str, list[float]] = {name: [] for name in counters}

    def timed(name: str, func: Any, is_async: bool) -> Any:
        def count(t0: float, n: int) -> None:
            c = counters[name]
            c[0] += 1
            spent = time.perf_counter() - t0
            c[1] += spent
            c[2] += n
            spans[name].append(spent)

        if is_async:
            async def wrapper(*a: Any) -> Any:
                t0 = time.perf_counter()
                result = await func(*a)
                count(t0, int(result or 0))
                return result
        else:
            def wrapper(*a: Any) -> Any:  # type: ignore[misc]
                t0 = time.perf_counter()
                result = func(*a)
                # Rows: the batch committed, the rows claimed, none for a statement.
                count(t0, len(a[-1]) if name == "commit" else
                      len(result) if isinstance(result, list) else 0)
                return result
        return wrapper

    InboxWriter._commit = timed("commit", InboxWriter._commit, False)  # type: ignore[method-assign]
    InboxProcessor.run_once = timed("pass", InboxProcessor.run_once, True)  # type: ignore[method-assign]
    # A claim's or a finish's single statement, its waits for the write lock included.
    alone = timed("alone", db.write_alone, False)
    for module in (processor_module, leases):
        module.write_alone = alone  # type: ignore[attr-defined]
    processor_module.claim = timed("claim", leases.claim, False)  # type: ignore[attr-defined]
    prof = cProfile.Profile()
    prof.enable()

    def dump() -> None:
        prof.disable()
        prof.dump_stats(f"{out}/loop-{os.getpid()}.prof")
        with open(f"{out}/counters-{os.getpid()}.txt", "w") as f:
            for name, (calls, secs, rows) in counters.items():
                took = sorted(spans[name]) or [0.0]
                f.write(f"{name}: {calls} calls, {secs:.3f} s, {rows} rows; ms p50 "
                        f"{1000 * took[len(took) // 2]:.2f}, p90 "
                        f"{1000 * took[len(took) * 9 // 10]:.2f}, max {1000 * took[-1]:.1f}\n")

    app = create_app()

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        # uvicorn ends the process by re-raising SIGTERM after the shutdown, so atexit
        # would not run: write the figures when the lifespan's shutdown completes.
        async def sending(message: Any) -> None:
            if message.get("type") == "lifespan.shutdown.complete":
                dump()
            await send(message)

        await app(scope, receive, sending if scope["type"] == "lifespan" else send)

    return wrapped
