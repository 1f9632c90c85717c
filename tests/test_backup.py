"""`comuna backup` and `comuna restore` (node/storage/backup.py, restore.py): a round
trip keeps the node's identity, keys, rows and delivery states; a backup taken while
the inbox is flooded restores into a consistent database and a node that answers as
the same actor; refusals leave nothing behind. On PostgreSQL (COMUNA_TEST_PG_URL) the
same tests go through pg_dump and pg_restore."""

from __future__ import annotations

import asyncio
import copy
import io
import json
import tarfile
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, text, update
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from node.app import create_app
from node.cli.main import main as cli
from node.config import Settings, load_settings
from node.context import build_context
from node.inbox.writer import InboxWriter
from node.models import AuditEntry, Delivery, Follower, InboxItem, LocalActor
from node.models.base import utcnow
from node.outbox.publish import post_note
from node.storage import audit
from node.storage.db import make_null_engine
from tests.conftest import PG_URL, Databases
from tests.fakeremote import FakeRemote
from tests.helpers import id_of, run_loops
from tests.procnode import NodeProcess

pytestmark = pytest.mark.timeout(120)
AP = "application/activity+json"
FAR = "https://far.example"


def restore_args(databases: Databases, name: str) -> list[str]:
    """On PostgreSQL the facilitator names an empty database; SQLite goes to the
    new data directory."""
    return ["--database-url", databases.new(name, empty=True)] if PG_URL else []


def actor_doc(settings: Settings) -> dict[str, Any]:
    with TestClient(create_app(settings, background=False), base_url=settings.url) as c:
        r = c.get(f"/actors/{settings.handle}", headers={"Accept": AP})
        assert r.status_code == 200, r.text
        doc: dict[str, Any] = r.json()
        return doc


def keys_of(settings: Settings) -> list[tuple[str, str, str]]:
    engine = make_null_engine(settings.effective_database_url)
    with Session(engine) as s:
        rows = s.exec(select(LocalActor).order_by(col(LocalActor.handle))).all()
        keys = [(a.handle, a.rsa_private_pem, a.ed25519_private_pem) for a in rows]
    engine.dispose()
    return keys


def leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".restoring-" in p.name or
            p.name.startswith(".comuna-backup-")]


# --- round trip --------------------------------------------------------------------------


def test_round_trip_keeps_identity_keys_rows_and_delivered_stays_delivered(
        node: Settings, databases: Databases, remote: FakeRemote, tmp_path: Path) -> None:
    ctx = build_context(node)
    with Session(ctx.engine) as s:
        s.add(Follower(actor_id=id_of(ctx.primary), follower_uri=f"{remote.base}/users/bob",
                       inbox=f"{remote.base}/users/bob/inbox"))
        s.commit()
        sent, in_flight, parked = (post_note(ctx.tx(s, ctx.primary), ctx.primary, text)
                                   for text in ("uno", "dos", "tres"))
        ids = {sent.activity_id: "sent", in_flight.activity_id: "in flight",
               parked.activity_id: "parked"}
        audit.append(s, None, "test.backup", "node")
        s.commit()
        rows = s.exec(select(Delivery).order_by(col(Delivery.id))).all()
        assert len(rows) == 3
        rows[0].state = "delivered"
        # A worker of the old node holds the second; it may or may not have reached
        # the inbox before the backup: it is sent (again) after the restore.
        rows[1].lease_owner, rows[1].lease_until = "old-host:1:x", utcnow() + timedelta(hours=1)
        rows[2].state = "failed"
        s.add_all(rows)
        s.commit()
    ctx.engine.dispose()
    before = actor_doc(node)
    archive = tmp_path / "maizal.tar.gz"
    assert cli(["backup", "--data-dir", str(node.data_dir), str(archive)]) == 0
    assert archive.stat().st_mode & 0o077 == 0, "the archive holds private keys"

    new_dir = tmp_path / "restored"
    assert cli(["restore", "--data-dir", str(new_dir), str(archive),
                *restore_args(databases, "restored")]) == 0
    restored = load_settings(new_dir)
    assert restored.effective_database_url != node.effective_database_url
    assert (restored.url, restored.handle, restored.admin_token_sha256) == (
        node.url, node.handle, node.admin_token_sha256)
    assert actor_doc(restored) == before
    assert keys_of(restored) == keys_of(node)
    engine = make_null_engine(restored.effective_database_url)
    with Session(engine) as s:
        states = {d.id: (d.state, d.lease_owner) for d in s.exec(select(Delivery))}
        assert audit.verify_chain(s) == (True, None)
        assert s.exec(select(func.count()).select_from(AuditEntry)).one() > 0
    engine.dispose()
    assert sorted(states.values(), key=str) == sorted(
        [("delivered", None), ("queued", None), ("failed", None)], key=str)

    # The restored node's worker sends what was in flight, and nothing it had delivered
    # or parked.
    run_loops(restored, lambda c: all(d.state != "queued" for d in _deliveries(c.engine)),
              inbox=False)
    got = [json.loads(p["body"])["id"] for p in remote.posts]
    assert [ids[g] for g in got] == ["in flight"]


def _deliveries(engine: Any) -> list[Delivery]:
    with Session(engine) as s:
        return list(s.exec(select(Delivery)).all())


# --- during a flood ----------------------------------------------------------------------


def _row(n: int) -> dict[str, Any]:
    doc = {"@context": "https://www.w3.org/ns/activitystreams",
           "id": f"{FAR}/activities/{n}", "type": "Create", "actor": f"{FAR}/users/a",
           "object": {"id": f"{FAR}/notes/{n}", "type": "Note", "content": "x" * 400}}
    now = utcnow()
    return {"activity_id": doc["id"], "activity_type": "Create", "actor": doc["actor"],
            "recipient": "flood", "signer": "", "body": json.dumps(doc), "received_at": now,
            "state": "queued", "attempts": 0, "next_attempt_at": now + timedelta(days=1),
            "lease_owner": None, "lease_until": None, "last_error": ""}


class Flood:
    """The inbox's own group-commit writer storing activities, in order, from a loop
    of its own, with an audit appender beside it: both write while the backup reads."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_null_engine(settings.effective_database_url)
        self.stop = threading.Event()
        self.stored = 0
        self.audited = 0
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._inbox), threading.Thread(target=self._audit)]

    def __enter__(self) -> Flood:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)
        self.engine.dispose()
        assert not self.errors, self.errors

    def _inbox(self) -> None:
        async def run() -> None:
            writer = InboxWriter(self.engine)
            writer.start()
            n = 0
            try:
                while not self.stop.is_set():
                    # Twenty requests at a time, as concurrent POSTs would hand them over.
                    await asyncio.gather(*(writer.store(_row(n + i)) for i in range(20)))
                    n += 20
                    self.stored = n
            finally:
                await writer.stop()

        try:
            asyncio.run(run())
        except BaseException as exc:  # noqa: BLE001  (reported by __exit__)
            self.errors.append(exc)

    def _audit(self) -> None:
        try:
            while not self.stop.is_set():
                with Session(self.engine) as s:
                    audit.append(s, None, "test.flood", "node", {"n": self.audited})
                    s.commit()
                self.audited += 1
        except BaseException as exc:  # noqa: BLE001
            self.errors.append(exc)

    def wait(self, stored: int, audited: int) -> None:
        deadline = threading.Event()
        for _ in range(600):
            if (self.stored >= stored and self.audited >= audited) or self.errors:
                return
            deadline.wait(0.05)
        raise AssertionError(f"the flood stalled at {self.stored} rows, {self.audited} entries")


@pytest.fixture
def proc_node(tmp_path: Path, databases: Databases) -> Iterator[Callable[..., NodeProcess]]:
    started: list[NodeProcess] = []

    def make(handle: str) -> NodeProcess:
        n = NodeProcess(tmp_path, handle, databases.new(handle))
        started.append(n)
        return n

    yield make
    for n in started:
        n.stop()


def test_backup_taken_during_an_inbox_flood_restores_consistent_and_answers_as_itself(
        proc_node: Callable[..., NodeProcess], databases: Databases, tmp_path: Path) -> None:
    original = proc_node("flood")  # initialised only: its rows are written in-process
    settings = load_settings(original.data_dir)
    expected_doc = actor_doc(settings)
    archive = tmp_path / "flood.tar.gz"
    with Flood(settings) as flood:
        flood.wait(stored=400, audited=20)
        at_start = (flood.stored, flood.audited)
        assert cli(["backup", "--data-dir", str(original.data_dir), str(archive)]) == 0
        at_end = (flood.stored, flood.audited)
        flood.wait(stored=at_end[0] + 200, audited=at_end[1] + 5)
    assert at_end[0] > at_start[0], "nothing was written while the backup ran"

    new_dir = tmp_path / "restored"
    assert cli(["restore", "--data-dir", str(new_dir), str(archive),
                *restore_args(databases, "restored")]) == 0
    restored = load_settings(new_dir)
    engine = make_null_engine(restored.effective_database_url)
    with Session(engine) as s:
        if engine.dialect.name == "sqlite":
            assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        inbox = s.exec(select(InboxItem)).all()
        assert audit.verify_chain(s) == (True, None)
        entries = s.exec(select(func.count()).select_from(AuditEntry)
                         .where(AuditEntry.action == "test.flood")).one()
    engine.dispose()
    # One snapshot: the rows stored in order are a whole prefix, each row complete.
    numbers = sorted(int(r.activity_id.rsplit("/", 1)[1]) for r in inbox)
    assert numbers == list(range(len(numbers)))
    assert at_start[0] <= len(numbers) <= at_end[0] + 20
    assert at_start[1] <= entries <= at_end[1] + 1
    for r in inbox:
        doc = json.loads(r.body)
        assert (doc["id"], doc["actor"], r.recipient, r.state) == (
            r.activity_id, r.actor, "flood", "queued")

    node = copy.copy(original)
    node.data_dir, node.log = new_dir, new_dir / "serve.log"
    try:
        node.start()
        answer = httpx.get(node.actor, headers={"Accept": AP}, timeout=10)
        assert answer.status_code == 200
        assert answer.json() == expected_doc
        finger = httpx.get(f"{node.url}/.well-known/webfinger",
                           params={"resource": f"acct:flood@{restored.host}"}, timeout=10)
        assert finger.status_code == 200 and node.actor in finger.text
    finally:
        node.stop()


# --- refusals ----------------------------------------------------------------------------


@pytest.fixture
def archive(node: Settings, tmp_path: Path) -> Path:
    out = tmp_path / "good.tar.gz"
    assert cli(["backup", "--data-dir", str(node.data_dir), str(out)]) == 0
    return out


def refused(args: list[str], capsys: pytest.CaptureFixture[str], says: str) -> None:
    capsys.readouterr()
    assert cli(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and says in err, err


def repack(source: Path, target: Path, change: Callable[[dict[str, Any]], None],
           damage: str = "") -> Path:
    """`source` with its manifest changed, or one file's bytes altered."""
    with tarfile.open(source, "r:gz") as tar, tarfile.open(target, "w:gz") as out:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                manifest = json.loads(data)
                change(manifest)
                data = json.dumps(manifest).encode()
            elif member.name == damage:
                middle = len(data) // 2
                data = data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + \
                    data[middle + 64:]
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    return target


def test_restore_refuses_what_it_cannot_restore_and_leaves_nothing(
        archive: Path, node: Settings, tmp_path: Path, databases: Databases,
        capsys: pytest.CaptureFixture[str]) -> None:
    new = tmp_path / "new"
    restore = ["restore", "--data-dir", str(new)]
    refused([*restore, str(tmp_path / "missing.tar.gz")], capsys, "no backup archive")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[:2000])
    refused([*restore, str(cut)], capsys, "not a Comuna backup or is damaged")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"PK\x03\x04 not a tar at all")
    refused([*restore, str(junk)], capsys, "not a Comuna backup or is damaged")
    tampered = repack(archive, tmp_path / "tampered.tar.gz", lambda m: None,
                      damage="database.sqlite3" if not PG_URL else "database.pgdump")
    refused([*restore, str(tampered)], capsys, "does not match its checksum")
    future = repack(archive, tmp_path / "future.tar.gz", lambda m: m.update(schema="9999_x"))
    refused([*restore, str(future)], capsys, "newer than this Comuna knows")
    newer = repack(archive, tmp_path / "newer.tar.gz", lambda m: m.update(format=99))
    refused([*restore, str(newer)], capsys, "made by a newer Comuna")
    if PG_URL:
        refused([*restore, str(archive)], capsys, "name an empty one with --database-url")
        refused([*restore, str(archive), "--database-url", databases.new("full")], capsys,
                "restore into an empty database")
    else:
        refused([*restore, str(archive), "--database-url",
                 f"sqlite:///{node.effective_database_url.split(':///')[1]}"], capsys,
                "new or empty file")
        refused([*restore, str(archive), "--database-url", "postgresql://x@127.0.0.1:1/y"],
                capsys, "holds a sqlite database")
    assert not new.exists() and leftovers(tmp_path) == []

    # An existing directory with anything in it is refused before the archive is read.
    refused(["restore", "--data-dir", str(node.data_dir), str(archive)], capsys,
            "already exists and is not empty")
    new.mkdir()
    assert cli([*restore, str(archive), *restore_args(databases, "into_empty")]) == 0
    assert load_settings(new).handle == node.handle


def test_backup_refuses_a_directory_without_a_node_or_an_archive_inside_it(
        node: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(["backup", "--data-dir", str(empty), str(tmp_path / "x.tar.gz")], capsys,
            "holds no node")
    refused(["backup", "--data-dir", str(node.data_dir), str(node.data_dir / "x.tar.gz")],
            capsys, "outside the data directory")
    refused(["backup", "--data-dir", str(node.data_dir), str(tmp_path / "no" / "x.tar.gz")],
            capsys, "does not exist")
    assert leftovers(tmp_path) == [] and not (tmp_path / "x.tar.gz").exists()


def test_a_newer_backup_replaces_the_archive_whole(
        node: Settings, archive: Path) -> None:
    first = archive.read_bytes()
    engine = make_null_engine(node.effective_database_url)
    with engine.begin() as conn:
        conn.execute(update(LocalActor).values(summary="otra"))
    engine.dispose()
    assert cli(["backup", "--data-dir", str(node.data_dir), str(archive)]) == 0
    assert archive.read_bytes() != first
    with tarfile.open(archive, "r:gz") as tar:
        assert sorted(tar.getnames()) == sorted(
            ["manifest.json", "comuna.json",
             "database.pgdump" if PG_URL else "database.sqlite3"])
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = json.load(tar.extractfile("comuna.json"))  # type: ignore[arg-type]
    assert manifest["node"]["handle"] == node.handle and manifest["schema"]
    # The old database's address (and password) stays out of the archive.
    assert "database_url" not in config and config["url"] == node.url
