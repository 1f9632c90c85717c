"""Restoring an archive made by `comuna backup` (node/storage/backup.py) into a new
data directory, refusing before anything is written when the archive is missing or
damaged, the directory is in use, the database is not empty, or the archive comes
from a newer Comuna than this one.

Deliveries keep their states: a row delivered before the backup stays delivered and
is never sent again. A row a worker had leased (in flight) at backup time is queued
again, since nobody can tell whether the old node finished it: at most that one
activity reaches its inbox twice, and receivers drop a repeated activity id.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import zlib
from pathlib import Path
from typing import IO, Any

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from node.config import CONFIG_FILE, write_config_file
from node.storage.backup import (
    DEFAULT_SQLITE,
    FORMAT,
    LEASED,
    MANIFEST,
    MEMBERS,
    PG_FILE,
    SQLITE_FILE,
    BackupError,
    database_kind,
    facts_at,
    first_line,
    plain_engine,
    run_pg,
    staging,
)

# Failures of reading a damaged gzip or tar.
_DAMAGED = (tarfile.TarError, OSError, EOFError, zlib.error, UnicodeDecodeError,
            json.JSONDecodeError)


def restore(archive: Path, data_dir: Path, database_url: str = "") -> dict[str, Any]:
    """Make `data_dir` (absent or empty) the node saved in `archive`; on PostgreSQL
    into the empty database at `database_url`. Returns what was restored."""
    if not archive.is_file():
        raise BackupError(f"no backup archive at {archive}")
    data_dir = data_dir.absolute()
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise BackupError(f"{data_dir} already exists and is not empty: restore into a new "
                          "directory")
    if not data_dir.parent.is_dir():
        raise BackupError(f"{data_dir.parent} does not exist")
    with staging(data_dir.parent, f".{data_dir.name}.restoring-") as stage:
        manifest = _unpack(archive, stage)
        kind = manifest["database"]
        _refuse_newer_schema(manifest["schema"])
        target_url = _target(kind, database_url, data_dir)
        if kind == "sqlite":
            # Prepared in the staging directory (SQLite files do not know their own
            # path), so a failure leaves nothing under the names the facilitator gave.
            os.replace(stage / SQLITE_FILE, stage / DEFAULT_SQLITE)
            work_url = f"sqlite:///{stage / DEFAULT_SQLITE}"
        else:
            run_pg("pg_restore", ["--no-owner", "--no-acl", "--exit-on-error",
                                   "--single-transaction", str(stage / PG_FILE)], target_url)
            work_url = target_url
        freed = _bring_up(work_url, manifest)
        config = json.loads((stage / CONFIG_FILE).read_text("utf-8"))
        if database_url:
            config["database_url"] = database_url
        (stage / CONFIG_FILE).unlink()
        write_config_file(stage, config)
        for name in (SQLITE_FILE, PG_FILE, MANIFEST):
            (stage / name).unlink(missing_ok=True)
        if kind == "sqlite" and database_url:
            shutil.move(stage / DEFAULT_SQLITE, make_url(target_url).database or "")
        if data_dir.exists():
            data_dir.rmdir()
        os.replace(stage, data_dir)
    return {**manifest, "data_dir": str(data_dir), "database_url": target_url,
            "leases_freed": freed}


def _unpack(archive: Path, stage: Path) -> dict[str, Any]:
    """The manifest, with the files it lists written into `stage` and checked against
    their digests. Only the names this format knows are ever written."""
    damaged = f"{archive} is not a Comuna backup or is damaged"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            manifest = _manifest(tar, damaged)
            for name, digest in manifest["files"].items():
                member = tar.getmember(name)
                source = tar.extractfile(member) if member.isfile() else None
                if source is None:
                    raise BackupError(f"{damaged} ({name} is not a file)")
                if _copy_hashing(source, stage / name) != digest:
                    raise BackupError(f"{damaged} ({name} does not match its checksum)")
    except KeyError as exc:
        raise BackupError(f"{damaged} (missing {exc})") from exc
    except _DAMAGED as exc:
        raise BackupError(f"{damaged} ({first_line(exc)})") from exc
    return manifest


def _manifest(tar: tarfile.TarFile, damaged: str) -> dict[str, Any]:
    member = tar.getmember(MANIFEST)
    raw = tar.extractfile(member) if member.isfile() else None
    if raw is None:
        raise BackupError(damaged)
    manifest = json.loads(raw.read(1 << 20).decode("utf-8"))
    if not isinstance(manifest, dict) or not isinstance(manifest.get("format"), int):
        raise BackupError(damaged)
    if manifest["format"] > FORMAT:
        raise BackupError(f"the archive is of format {manifest['format']}, made by a newer "
                          f"Comuna; this one reads format {FORMAT}: upgrade Comuna first")
    files = manifest.get("files")
    node = manifest.get("node")
    kind = manifest.get("database")
    wanted = {CONFIG_FILE, SQLITE_FILE if kind == "sqlite" else PG_FILE}
    if (not isinstance(files, dict) or set(files) != wanted or not set(files) <= MEMBERS
            or not isinstance(node, dict) or kind not in ("sqlite", "postgresql")):
        raise BackupError(f"{damaged} (its manifest is incomplete)")
    return manifest


def _copy_hashing(source: IO[bytes], target: Path) -> str:
    digest = hashlib.sha256()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def _refuse_newer_schema(schema: Any) -> None:
    from alembic.script import ScriptDirectory

    from node.storage.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    known = {rev.revision for rev in scripts.walk_revisions()}
    if schema not in known:
        raise BackupError(f"the archive's database is at schema {schema}, newer than this "
                          f"Comuna knows (up to {scripts.get_current_head()}): upgrade "
                          "Comuna first")


def _target(kind: str, database_url: str, data_dir: Path) -> str:
    """Where the database goes, after refusing one that is not empty."""
    if database_url:
        try:
            wanted = database_kind(database_url)
        except BackupError as exc:
            raise BackupError(f"--database-url: {exc}") from exc
        if wanted != kind:
            raise BackupError(f"the archive holds a {kind} database; --database-url names "
                              f"a {wanted} one")
    if kind == "sqlite":
        if not database_url:
            return f"sqlite:///{data_dir / DEFAULT_SQLITE}"
        path = Path(make_url(database_url).database or "")
        if not path.is_absolute() or (path.exists() and path.stat().st_size > 0):
            raise BackupError(f"{path} must be an absolute path to a new or empty file")
        if not path.parent.is_dir():
            # Found out only at the end otherwise, as a traceback from the final move.
            raise BackupError(f"{path.parent} does not exist")
        return f"sqlite:///{path}"
    if not database_url:
        raise BackupError("the archive holds a PostgreSQL database: name an empty one with "
                          "--database-url postgresql://USER@HOST/DB")
    _refuse_non_empty_postgresql(database_url)
    return database_url


def _refuse_non_empty_postgresql(url: str) -> None:
    engine = plain_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN "
                "('pg_catalog', 'information_schema')")).scalar()
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot reach the database: {first_line(exc)}") from exc
    finally:
        engine.dispose()
    if tables:
        raise BackupError(f"the database at --database-url already holds {tables} tables: "
                          "restore into an empty database")


def _bring_up(url: str, manifest: dict[str, Any]) -> int:
    """Migrate the restored database to this code's schema, free the leases of the old
    node's workers, and check it is the node the manifest names. Returns leases freed."""
    from node.storage.migrate import upgrade

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)
                           if url.startswith("postgresql://") else url, poolclass=NullPool)
    try:
        upgrade(engine)
        freed = 0
        with engine.begin() as conn:
            for table in LEASED:
                # Whatever the old node's workers held, they hold no more: queued again
                # now rather than when their leases would have run out.
                result = conn.execute(text(
                    f"UPDATE {table} SET lease_owner = NULL, lease_until = NULL "  # noqa: S608
                    "WHERE state = 'queued' AND lease_owner IS NOT NULL"))
                freed += int(result.rowcount or 0)
    except SQLAlchemyError as exc:
        raise BackupError(f"bringing the restored database up failed: {first_line(exc)}"
                          ) from exc
    finally:
        engine.dispose()
    facts = facts_at(url)
    node = manifest["node"]
    if facts.handle != node.get("handle") or facts.key_sha256 != node.get("key_sha256"):
        raise BackupError("the restored database's primary body or key differs from the "
                          "archive's manifest: the archive was tampered with")
    return freed
