"""Backing a node up into one archive, and restoring it into a new data directory.

The archive (a gzipped tar, readable by the facilitator alone: it holds private keys)
carries `manifest.json`, the node's settings file without its database address, and
the database. Every body's keys live in the database (`local_actor`), so the database
carries them; the manifest names the primary body's public key so that a restore can
check it answers with the same one.

A SQLite database is copied with SQLite's online backup API, in one step that reads
one snapshot: the node keeps serving and writing meanwhile (WAL lets the copy read
beside the writer) and the copy is whole, never a file caught half-written. A
PostgreSQL database is dumped by `pg_dump` (custom format; one snapshot too) and
loaded by `pg_restore` in one transaction into an empty database the facilitator
names. Operations guide: docs/backup.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from node.config import CONFIG_FILE, Settings

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
# What an archive may hold; nothing else in it is ever read or written to disk.
MEMBERS = {MANIFEST, CONFIG_FILE, SQLITE_FILE, PG_FILE}
DEFAULT_SQLITE = "comuna.sqlite3"
# Queue tables whose rows a worker leases while it handles them.
LEASED = ("delivery", "inbox_item")


class BackupError(Exception):
    """A backup or restore refused or failed; the message is one line for the
    facilitator, and nothing was left behind under the names they gave."""


@dataclass(frozen=True)
class Facts:
    """What a database says about the node it belongs to."""

    schema: str | None
    handle: str
    key_sha256: str
    bodies: int


def key_fingerprint(public_pem: str) -> str:
    return hashlib.sha256(public_pem.strip().encode()).hexdigest()


def read_facts(conn: Connection) -> Facts:
    try:
        schema = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        primary = conn.execute(text(
            "SELECT handle, rsa_public_pem FROM local_actor WHERE is_primary = :t"),
            {"t": True}).first()
        bodies = conn.execute(text("SELECT count(*) FROM local_actor")).scalar() or 0
    except SQLAlchemyError as exc:
        raise BackupError(f"the database holds no Comuna node ({first_line(exc)})") from exc
    if primary is None:
        raise BackupError("the database holds no primary body: run `comuna init` first")
    return Facts(schema, primary[0], key_fingerprint(primary[1]), int(bodies))


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def database_kind(url: str) -> str:
    if url.startswith("sqlite"):
        return "sqlite"
    if url.startswith("postgresql"):
        return "postgresql"
    raise BackupError(f"cannot back up a database at {make_url(url).drivername}: "
                      "only SQLite and PostgreSQL")


def plain_engine(url: str) -> Engine:
    """An engine that changes nothing on connect (no WAL switch, unlike make_engine)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, poolclass=NullPool)


def facts_at(url: str) -> Facts:
    engine = plain_engine(url)
    try:
        with engine.connect() as conn:
            return read_facts(conn)
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot read the database: {first_line(exc)}") from exc
    finally:
        engine.dispose()


# --- backup ------------------------------------------------------------------------------


def backup(settings: Settings, out: Path) -> dict[str, Any]:
    """Write the node of `settings` to the archive `out` (replaced whole, or not at all);
    returns the manifest."""
    if not settings.is_initialised:
        raise BackupError(f"{settings.data_dir} holds no node: nothing to back up")
    url = settings.effective_database_url
    kind = database_kind(url)
    out = out.resolve()
    if out.is_dir():
        raise BackupError(f"{out} is a directory: name the archive file to write")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent} does not exist")
    if out.resolve().is_relative_to(settings.data_dir.resolve()):
        raise BackupError("write the archive outside the data directory it backs up")
    with staging(out.parent, ".comuna-backup-") as stage:
        if kind == "sqlite":
            facts = _copy_sqlite(_sqlite_path(url), stage / SQLITE_FILE)
        else:
            facts = _dump_postgresql(url, stage / PG_FILE)
        (stage / CONFIG_FILE).write_text(json.dumps(_portable_config(settings), indent=2,
                                                    sort_keys=True) + "\n", "utf-8")
        files = [CONFIG_FILE, SQLITE_FILE if kind == "sqlite" else PG_FILE]
        manifest = {
            "format": FORMAT, "made_by": "comuna backup",
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "node": {"url": settings.url, "handle": facts.handle,
                     "actor": f"{settings.url}/actors/{facts.handle}",
                     "key_sha256": facts.key_sha256, "bodies": facts.bodies},
            "database": kind, "schema": facts.schema,
            "files": {name: _sha256(stage / name) for name in files},
        }
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        partial = stage / "archive.tar.gz"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz",
                                                     compresslevel=6) as tar:
            for name in [MANIFEST, *files]:
                tar.add(stage / name, arcname=name, recursive=False)
            raw.flush()
        with open(partial, "rb") as done:
            os.fsync(done.fileno())
        os.replace(partial, out)
    return manifest


@contextlib.contextmanager
def staging(parent: Path, prefix: str) -> Iterator[Path]:
    """A private directory beside the destination (same file system, so the result is
    renamed into place), removed afterwards whatever happens."""
    stage = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("the SQLite database is in memory: nothing on disk to back up")
    return Path(database)


def _copy_sqlite(source: Path, target: Path) -> Facts:
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        # pages=-1: the whole database in one step, read under one read transaction,
        # so writers that commit meanwhile are either wholly in the copy or not at all.
        src.backup(dst, pages=-1)
        # One self-contained file, whatever journal the node runs with.
        dst.execute("PRAGMA journal_mode=DELETE")
        verdict = dst.execute("PRAGMA integrity_check").fetchone()
        if verdict is None or verdict[0] != "ok":
            raise BackupError(f"the copy of {source} fails SQLite's integrity check: "
                              f"{verdict[0] if verdict else 'no answer'}")
    except sqlite3.Error as exc:
        raise BackupError(f"copying {source} failed: {first_line(exc)}") from exc
    finally:
        dst.close()
        src.close()
    return facts_at(f"sqlite:///{target}")


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """`url` as pg_dump/pg_restore take it, and the environment they need: the password
    goes by PGPASSWORD, not on a command line that every user of the machine can read."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def run_pg(tool: str, args: list[str], url: str) -> None:
    dsn, env = _libpq(url)
    try:
        done = subprocess.run([tool, *args, "--dbname", dsn], env=env, capture_output=True,
                              text=True, timeout=6 * 3600)
    except FileNotFoundError as exc:
        raise BackupError(f"{tool} not found: install the PostgreSQL client tools "
                          "(the server's major version or newer)") from exc
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        raise BackupError(f"{tool} failed: {lines[0] if lines else done.returncode}")


def _dump_postgresql(url: str, target: Path) -> Facts:
    before = facts_at(url)
    # One snapshot of everything; owners and grants are the old server's business.
    run_pg("pg_dump", ["--format=custom", "--no-owner", "--no-acl", "--file", str(target)],
            url)
    if facts_at(url).schema != before.schema:
        raise BackupError("the schema changed during the backup (a migration ran): "
                          "run the backup again")
    return before


def _portable_config(settings: Settings) -> dict[str, Any]:
    """The settings file as a restored node needs it. The database address stays out:
    it may hold a password, and a restored node pointed at the old database would be
    two nodes writing one database."""
    path = settings.data_dir / CONFIG_FILE
    config: dict[str, Any] = {}
    if path.is_file():
        config = json.loads(path.read_text("utf-8"))
    config.pop("database_url", None)
    # Given by the environment rather than the file, they would be lost otherwise.
    config.update(url=settings.url, handle=settings.handle, name=settings.name,
                  level=settings.level.value)
    return config


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
