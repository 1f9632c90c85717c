"""Whether a database is already at the newest schema, told without loading Alembic.

`comuna serve` migrates in a child process so that the serving process never loads
Alembic; that child costs about a second of CPU at every start. Most starts find the
schema already current, so the server first reads the revision itself and starts the
child only when the database is behind, empty or unreadable.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from node.storage.db import make_null_engine

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(?:['\"]([^'\"]+)['\"]|None)", re.M)


def head_from_files() -> str | None:
    """The one revision no other migration builds on; None if there is not exactly
    one (a branch, or a file the patterns cannot read: Alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        source = path.read_text("utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1):
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def is_current(engine: Engine) -> bool:
    """True only when the database's recorded revision is the newest one."""
    head = head_from_files()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return False  # no such table yet, or no database: the migration says why
    return [row[0] for row in found] == [head]


def url_is_current(url: str) -> bool:
    """`is_current` for a process that holds no engine yet (`comuna serve`)."""
    engine = make_null_engine(url)
    try:
        return is_current(engine)
    finally:
        engine.dispose()
