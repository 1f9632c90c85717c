"""Wake-ups between a node's processes: the bus itself, then real processes where only
the bus can make the work prompt (the loops poll every 30 s)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from node.storage import wakebus
from node.storage.wakebus import WakeBus
from tests.conftest import Databases
from tests.fakeremote import FakeRemote
from tests.procnode import NodeProcess, wait_for, worker_beside

pytestmark = pytest.mark.timeout(120)


def _short_dir(tmp_path: Path) -> Path:
    # pytest's temporary paths can exceed a socket path's 107 bytes on some machines.
    return Path(tempfile.mkdtemp(prefix="wb-"))


def test_a_notice_wakes_the_listening_process_and_only_for_its_topic(tmp_path: Path) -> None:
    asyncio.run(_wakes(_short_dir(tmp_path)))


async def _wakes(run: Path) -> None:
    listener, sender = WakeBus(run), WakeBus(run)
    woken: dict[str, asyncio.Event] = {"delivery": asyncio.Event(), "inbox": asyncio.Event()}
    assert listener.listen(asyncio.get_running_loop(),
                           {k: e.set for k, e in woken.items()})
    try:
        sender.notify("delivery")
        await asyncio.wait_for(woken["delivery"].wait(), 5)
        assert not woken["inbox"].is_set()
        sender.notify("inbox")
        await asyncio.wait_for(woken["inbox"].wait(), 5)
        # A listener does not wake itself through the bus (its own event is set directly).
        listener.notify("delivery")
    finally:
        listener.close()
        sender.close()
    assert not list(run.glob("wake-*.sock")), "closing removes the socket file"


def test_a_full_queue_wakes_every_loop_since_notices_were_refused(tmp_path: Path) -> None:
    """A socket holds ten notices unread (net.unix.max_dgram_qlen); a busy loop's
    queue fills with one topic and the next notice, of another topic, is refused. The
    listener cannot know which it missed, so a full queue wakes every loop."""

    async def main() -> None:
        run = _short_dir(tmp_path)
        listener, sender = WakeBus(run), WakeBus(run)
        woken = {"inbox": asyncio.Event(), "delivery": asyncio.Event()}
        assert listener.listen(asyncio.get_running_loop(),
                               {k: e.set for k, e in woken.items()})
        try:
            # The loop does not run meanwhile: nothing is read.
            for _ in range(wakebus._queue_length() + 2):
                sender.notify("inbox")
            sender.notify("delivery")  # refused: the queue is full
            await asyncio.wait_for(woken["inbox"].wait(), 5)
            await asyncio.sleep(0.05)
            assert woken["delivery"].is_set(), "a refused notice left its loop asleep"
        finally:
            listener.close()
            sender.close()

    asyncio.run(main())


def test_a_socket_left_by_a_killed_process_is_removed_by_the_next_notice(tmp_path: Path) -> None:
    run = _short_dir(tmp_path)
    dead = run / "wake-999999-0.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(dead))
    sock.close()  # the file stays, bound by nobody: what SIGKILL leaves
    assert dead.exists()
    WakeBus(run).notify("delivery")
    assert not dead.exists()


def test_a_file_left_with_our_pid_does_not_keep_the_bus_off(tmp_path: Path) -> None:
    """After a SIGKILL a restarted process often has the same pid (pid 1 in a
    container): names the dead one left must not refuse our bind."""
    run = _short_dir(tmp_path)
    for n in range(4):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(str(run / f"wake-{os.getpid()}-{n}.sock"))
        s.close()
    bus = WakeBus(run)

    async def listen() -> bool:
        return bus.listen(asyncio.get_running_loop(), {})

    try:
        assert asyncio.run(listen())
    finally:
        bus.close()


def test_a_run_directory_others_may_write_to_is_not_used(tmp_path: Path) -> None:
    run = _short_dir(tmp_path)
    os.chmod(run, 0o770)  # noqa: S103  (its group may write in it: what is refused)
    planted = run / "wake-1-0.sock"
    planted.write_text("not a socket")
    bus = WakeBus(run)

    async def listen() -> bool:
        return bus.listen(asyncio.get_running_loop(), {})

    assert not asyncio.run(listen())
    bus.notify("delivery")
    os.chmod(run, 0o700)
    bus = WakeBus(run)
    bus.notify("delivery")  # a private directory: it sends, and finds no socket there
    assert planted.read_text() == "not a socket", "only sockets are ever removed"


def test_a_run_directory_deeper_than_a_socket_name_still_carries_notices(
        tmp_path: Path) -> None:
    """A socket's name has room for 107 bytes; a deeper data directory is reached
    through the process's descriptor of it, so its loops are still woken at once."""
    deep = tmp_path / ("d" * 120) / "run"
    deep.parent.mkdir()
    assert len(str(deep / "wake-1-0-00000000.sock")) > 107
    asyncio.run(_wakes(deep))


def test_a_name_too_long_even_through_a_descriptor_leaves_the_bus_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the short form cannot be had either (no /proc), the bus says it is off and
    the loops fall back to polling."""
    deep = tmp_path / ("d" * 120)
    monkeypatch.setattr("node.storage.wakebus.os.path.isdir",
                        lambda p: not str(p).startswith("/proc/"))
    bus = WakeBus(deep)

    async def listen() -> bool:
        return bus.listen(asyncio.get_running_loop(), {})

    assert not asyncio.run(listen())
    bus.notify("delivery")  # no listener, no error
    bus.close()


def test_a_separate_worker_delivers_and_answers_at_once_not_at_its_next_poll(
        databases: Databases, remote: FakeRemote, tmp_path: Path) -> None:
    """`serve` without background loops stores and publishes; a `comuna worker` beside
    it, polling only every 30 s, answers a Follow and delivers a post within seconds."""
    node = NodeProcess(tmp_path, "maizal", databases.new("maizal"),
                       extra_env={"COMUNA_BACKGROUND": "0",
                                  "COMUNA_DELIVERY_POLL_SECONDS": "30",
                                  "COMUNA_IDLE_POLL_SECONDS": "30"})
    try:
        with worker_beside(node):
            node.start()
            # The worker is listening once its socket is there (it polled once at start).
            wait_for(lambda: list((node.data_dir / "run").glob("wake-*.sock")), timeout=30,
                     what="the worker's socket")
            time.sleep(0.3)  # past the start-up claim, so only a notice can wake it now
            alice = remote.actor("alice")
            body, headers = alice.signed_post(node.inbox,
                                              alice.activity("Follow", obj=node.actor))
            sent = time.monotonic()
            answer = httpx.post(node.inbox, content=body, headers=headers, timeout=10)
            assert answer.status_code == 202

            def got(kind: str) -> bool:
                return any(json.loads(p["body"]).get("type") == kind
                           for p in list(remote.posts))

            wait_for(lambda: got("Accept"), timeout=20, what="the Accept")
            assert time.monotonic() - sent < 10, "the worker waited for its poll"
            posted = time.monotonic()
            node.comuna("post", "Asamblea el sábado a las diez")
            wait_for(lambda: got("Create"), timeout=20, what="the post")
            assert time.monotonic() - posted < 10, "the worker waited for its poll"
    finally:
        node.stop()
