"""Two processes appending to the audit chain at once: the second waits for the first
to commit instead of reading the same last entry, so neither unit of work is lost to a
clash on the entry's place in the chain. Two engines on one database stand for the two
processes (SQLite file or PostgreSQL, whichever the suite runs on)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select

from node.config import Settings
from node.models import AuditEntry, LocalActor
from node.storage import audit
from node.storage.db import make_engine
from tests.govfixtures import build_commune


@pytest.mark.parametrize("pending", [False, True], ids=["audit-first", "after-a-change"])
def test_a_second_appender_waits_for_the_first(node: Settings, pending: bool) -> None:
    c = build_commune(node)
    other = make_engine(node.effective_database_url)
    fired = threading.Event()
    finished = threading.Event()
    errors: list[BaseException] = []

    def second_process() -> None:
        try:
            with Session(other) as s:
                audit.append(s, None, "test.second", "node")
                s.commit()
        except Exception as exc:  # noqa: BLE001 (any failure there is reported below)
            errors.append(exc)
        finally:
            finished.set()

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Between the first unit's read of the last entry and its insert, the other
        # process appends: it must not get in there.
        if statement.startswith("INSERT INTO audit_entry") and not fired.is_set():
            fired.set()
            threading.Thread(target=second_process, daemon=True).start()
            finished.wait(0.5)

    event.listen(c.ctx.engine, "before_cursor_execute", before)
    try:
        with c.session() as s:
            if pending:
                body = s.get(LocalActor, c.assembly.id)
                assert body is not None
                body.name = "Comuna El Maizal"
                s.add(body)
            audit.append(s, None, "test.first", "node")
            got_in_between = finished.is_set()
            s.commit()
    finally:
        event.remove(c.ctx.engine, "before_cursor_execute", before)
    assert fired.is_set()
    assert not got_in_between, f"the second appender got in between: {errors}"
    assert finished.wait(30), "the second appender never finished"
    assert errors == []
    with Session(other) as s:
        actions = s.exec(select(col(AuditEntry.action)).order_by(col(AuditEntry.seq))).all()
        assert [a for a in actions if a.startswith("test.")] == ["test.first", "test.second"]
        assert audit.verify_chain(s) == (True, None)
    other.dispose()
