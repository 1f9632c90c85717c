"""`comuna post` hands its text to the running node over loopback (node/handoff.py,
node/api/local.py), and writes the rows itself when no node takes it."""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node import handoff
from node.app import create_app
from node.cli.main import LEVELS
from node.cli.main import main as cli
from node.config import Level, Settings
from node.models import Delivery, Follower, OutboxItem
from node.storage.db import make_null_engine
from tests.conftest import NODE_URL, Databases, ctx_of
from tests.procnode import NodeProcess


def outbox_ids(client: TestClient) -> list[str]:
    with Session(ctx_of(client).engine) as s:
        return list(s.exec(select(OutboxItem.activity_id)).all())


@pytest.fixture
def local(node: Settings) -> Iterator[tuple[TestClient, handoff.Handoff]]:
    """The node in-process as `comuna serve` starts it: its hand-off file written first,
    the command's requests coming from loopback."""
    written = handoff.write(node.data_dir, "127.0.0.1", 8000)
    app = create_app(node, background=False)
    with TestClient(app, base_url=NODE_URL, client=("127.0.0.1", 40000)) as c:
        yield c, written


def test_the_parser_knows_every_level() -> None:
    assert LEVELS == [lv.value for lv in Level]


def test_handoff_file_is_for_the_owner_and_removed_only_by_its_run(tmp_path: Path) -> None:
    first = handoff.write(tmp_path, "0.0.0.0", 8000)
    path = tmp_path / handoff.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert handoff.read(tmp_path) == first and first.host == "127.0.0.1"
    second = handoff.write(tmp_path, "::", 8001)
    assert second.token != first.token and second.host == "::1"
    handoff.remove(tmp_path, first)  # a node that started since owns the file now
    assert handoff.read(tmp_path) == second
    handoff.remove(tmp_path, second)
    assert not path.exists() and handoff.read(tmp_path) is None
    assert [p.name for p in tmp_path.iterdir()] == []


def test_the_node_publishes_what_its_command_hands_over(local: tuple[TestClient, handoff.Handoff],
                                                        node: Settings) -> None:
    client, written = local
    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        s.add(Follower(actor_id=ctx.primary.id, follower_uri="https://a.example/u/1",
                       inbox="https://a.example/u/1/inbox"))
        s.commit()
    ctx.delivery_wakeup.clear()
    r = client.post(handoff.POST_PATH, json={"text": "Asamblea el sábado"},
                    headers={"Authorization": f"Bearer {written.token}"})
    assert r.status_code == 201, r.text
    activity_id = r.json()["id"]
    assert outbox_ids(client) == [activity_id]
    with Session(ctx.engine) as s:
        assert [d.inbox for d in s.exec(select(Delivery)).all()] == [
            "https://a.example/u/1/inbox"]
    assert ctx.delivery_wakeup.is_set()  # the worker starts now, not at its next poll


@pytest.mark.parametrize("headers, client_host, status", [
    ({"Authorization": "Bearer not-the-token"}, "127.0.0.1", 403),
    ({}, "127.0.0.1", 403),
    ({"Authorization": "Bearer {token}"}, "10.1.2.3", 403),
    ({"Authorization": "Bearer {token}", "X-Forwarded-For": "203.0.113.9"}, "127.0.0.1", 403),
])
def test_only_the_owner_on_this_machine_may_post(node: Settings, headers: dict[str, str],
                                                 client_host: str, status: int) -> None:
    written = handoff.write(node.data_dir, "127.0.0.1", 8000)
    headers = {k: v.format(token=written.token) for k, v in headers.items()}
    with TestClient(create_app(node, background=False), base_url=NODE_URL,
                    client=(client_host, 40000)) as client:
        r = client.post(handoff.POST_PATH, json={"text": "intruso"}, headers=headers)
        assert r.status_code == status
        assert outbox_ids(client) == []


def test_no_door_without_serve_and_no_post_without_text(
        node: Settings, local: tuple[TestClient, handoff.Handoff]) -> None:
    client, written = local
    auth = {"Authorization": f"Bearer {written.token}"}
    assert client.post(handoff.POST_PATH, json={"texto": "x"}, headers=auth).status_code == 422
    assert client.post(handoff.POST_PATH, content=b"{", headers=auth).status_code == 422
    # An empty notice would go to every follower as an empty post.
    r = client.post(handoff.POST_PATH, json={"text": " \n "}, headers=auth)
    assert r.status_code == 422 and r.json()["code"] == "empty-notice"
    assert outbox_ids(client) == []
    handoff.remove(node.data_dir, written)
    with TestClient(create_app(node, background=False), base_url=NODE_URL,
                    client=("127.0.0.1", 40000)) as other:
        r = other.post(handoff.POST_PATH, json={"text": "x"}, headers=auth)
        assert r.status_code == 404
        assert outbox_ids(other) == []


class _Answer(BaseHTTPRequestHandler):
    status = 500

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"detail": "broken"}'
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def impostor(node: Settings) -> Iterator[type[_Answer]]:
    """A process listening where the hand-off file points, answering what a test says."""
    handler = type("Answer", (_Answer,), {})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    handoff.write(node.data_dir, "127.0.0.1", server.server_address[1])
    yield handler
    server.shutdown()
    server.server_close()


def test_a_refusal_before_writing_falls_back_to_writing_here(
        node: Settings, impostor: type[_Answer], capsys: pytest.CaptureFixture[str]) -> None:
    impostor.status = 403  # a stale file, the port now used by another program
    assert cli(["post", "--data-dir", str(node.data_dir), "aviso"]) == 0
    printed = capsys.readouterr().out.strip()
    with TestClient(create_app(node, background=False), base_url=NODE_URL) as client:
        assert outbox_ids(client) == [printed]


def test_an_unconfirmed_post_is_not_posted_twice(node: Settings, impostor: type[_Answer],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    impostor.status = 500
    assert cli(["post", "--data-dir", str(node.data_dir), "aviso"]) == 1
    assert "comuna status" in capsys.readouterr().err
    with TestClient(create_app(node, background=False), base_url=NODE_URL) as client:
        assert outbox_ids(client) == []


def test_post_through_a_running_node_and_after_it_died(tmp_path: Path,
                                                       databases: Databases) -> None:
    node = NodeProcess(tmp_path, "posta", databases.new("posta"))
    node.start()
    try:
        via_node = handoff.post_note(node.data_dir, "por la puerta local")
        via_cli = node.comuna("post", "otra vez").strip()
        node.kill()  # SIGKILL: the hand-off file stays, nothing listens behind it
        assert (node.data_dir / handoff.FILE_NAME).exists()
        with pytest.raises(handoff.NotReached):
            handoff.post_note(node.data_dir, "nadie escucha")
        after = node.comuna("post", "escrito por el comando").strip()
    finally:
        node.stop()
    from node.config import load_settings
    from node.storage.db import make_null_engine

    engine = make_null_engine(load_settings(node.data_dir).effective_database_url)
    with Session(engine) as s:
        stored = set(s.exec(select(OutboxItem.activity_id)).all())
    engine.dispose()
    assert {via_node, via_cli, after} == stored


def test_memory_is_given_back_once_a_burst_has_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    """node/memory.py: no trim while the process grows, one when it has settled, and
    one more a check later; nothing while it stays small."""
    import asyncio

    from node import memory

    sizes = iter([100, 100, 110, 120, 120, 118, 118, 118, 118])
    trims: list[int] = []
    current = [100]

    def resident() -> int:
        current[0] = next(sizes, current[0])
        return current[0] * 2**20

    monkeypatch.setattr(memory, "resident_bytes", resident)
    monkeypatch.setattr(memory, "trim", lambda: trims.append(current[0]))
    monkeypatch.setattr(memory, "_glibc", lambda: object())

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(memory.trim_after_bursts(stop, every=0.001))
        while current[0] != 118 or len(trims) < 2:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.02)
        stop.set()
        await task

    asyncio.run(run())
    # grew 100 -> 120 (no trim while growing), settled at 120: trim; then once more.
    assert trims == [120, 118]


def test_one_trimmer_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several nodes in one process (the benchmark's hosts, the tests) start one trimmer
    each: the first runs, the others end at once; once it stops, a new one may run."""
    import asyncio

    from node import memory

    monkeypatch.setattr(memory, "resident_bytes", lambda: 100 * 2**20)
    monkeypatch.setattr(memory, "_glibc", lambda: object())

    async def run() -> None:
        first_stop, second_stop = asyncio.Event(), asyncio.Event()
        first = asyncio.create_task(memory.trim_after_bursts(first_stop, every=0.001))
        await asyncio.sleep(0.01)
        # The second returns without waiting for its stop.
        await asyncio.wait_for(memory.trim_after_bursts(second_stop, every=0.001), 1)
        assert not first.done()
        first_stop.set()
        await first
        again = asyncio.create_task(memory.trim_after_bursts(second_stop, every=0.001))
        await asyncio.sleep(0.01)
        assert not again.done()  # the first gone, this one runs
        second_stop.set()
        await again

    asyncio.run(run())
    assert memory._RUNNING == []


def test_the_command_says_a_refusal_in_one_line_and_a_bug_keeps_its_traceback(
        node: Settings, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = str(node.data_dir)
    for argv, said in (
            (["post", "--data-dir", data, "  "], "error: a public notice needs some text"),
            (["invite", "--data-dir", data, "--body", "nope"], "error: no such body"),
            (["follow", "--data-dir", data, "notahandle"],
             "error: give @handle@host or an actor URL")):
        assert cli(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.strip() == said, (argv, err)
    engine = make_null_engine(node.effective_database_url)
    with Session(engine) as s:
        assert s.exec(select(OutboxItem)).all() == []
    engine.dispose()

    def broken(args: Any) -> int:
        raise KeyError("a bug")

    monkeypatch.setattr("node.cli.main.cmd_status", broken)
    with pytest.raises(KeyError):
        cli(["status", "--data-dir", data])
