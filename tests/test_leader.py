"""One inbox processor per machine (node/leader.py): the loop runs only while its
process holds the lock, another process's lock keeps it waiting, and the lock's end,
however its holder ends, lets the next one take over within a second."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from node.leader import one_at_a_time

HOLD = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()")


def test_two_loops_on_one_lock_never_run_at_once_and_the_second_takes_over(
        tmp_path: Path) -> None:
    lock = tmp_path / "inbox-processor.lock"
    running: list[str] = []
    overlaps: list[list[str]] = []

    async def main() -> None:
        stop_a, stop_b = asyncio.Event(), asyncio.Event()
        b_started = asyncio.Event()

        def loop(name: str, stop: asyncio.Event, started: asyncio.Event | None
                 ) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                running.append(name)
                if len(running) > 1:
                    overlaps.append(list(running))
                if started is not None:
                    started.set()
                await stop.wait()
                running.remove(name)
            return run

        a = asyncio.create_task(one_at_a_time(lock, stop_a, loop("a", stop_a, None),
                                              retry=0.05))
        await asyncio.sleep(0)  # a takes the lock first
        b = asyncio.create_task(one_at_a_time(lock, stop_b, loop("b", stop_b, b_started),
                                              retry=0.05))
        # b keeps looking while a holds the lock, and never starts.
        for _ in range(5):
            await asyncio.sleep(0.06)
            assert running == ["a"], running
        stop_a.set()
        await a
        await asyncio.wait_for(b_started.wait(), 5)
        assert running == ["b"]
        stop_b.set()
        await b

    asyncio.run(main())
    assert overlaps == []


def test_a_lock_held_by_another_process_waits_until_that_process_ends(
        tmp_path: Path) -> None:
    lock = tmp_path / "inbox-processor.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    ran = []

    async def main() -> None:
        stop = asyncio.Event()

        async def run() -> None:
            # The holder must be gone by now. Its lock is released as its files close,
            # a moment before it can be reaped, so poll() alone may still say None.
            ran.append(holder.wait(timeout=5))
            stop.set()

        task = asyncio.create_task(one_at_a_time(lock, stop, run, retry=0.05))
        await asyncio.sleep(0.3)
        assert not ran and not task.done()
        assert holder.stdin is not None
        holder.kill()  # ends without releasing anything itself: the kernel does
        await asyncio.wait_for(task, 10)

    try:
        asyncio.run(main())
    finally:
        holder.kill()
        holder.wait()
    assert ran and ran[0] is not None


def test_a_stop_while_waiting_ends_the_wait_without_running(tmp_path: Path) -> None:
    lock = tmp_path / "inbox-processor.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"

    async def main() -> None:
        stop = asyncio.Event()

        async def run() -> None:
            raise AssertionError("ran without the lock")

        task = asyncio.create_task(one_at_a_time(lock, stop, run, retry=30))
        await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, 5)  # not after the 30 s retry

    try:
        asyncio.run(main())
    finally:
        holder.kill()
        holder.wait()


def test_where_no_lock_can_be_had_the_loop_runs_all_the_same(tmp_path: Path) -> None:
    ran = []

    async def main() -> None:
        stop = asyncio.Event()

        async def run() -> None:
            ran.append(True)

        await asyncio.wait_for(one_at_a_time(tmp_path / "gone" / "x.lock", stop, run), 5)

    asyncio.run(main())
    assert ran == [True]
