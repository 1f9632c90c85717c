"""Leases name their process, so a restarted worker frees what a dead one held."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from node.config import Settings
from node.context import NodeContext, build_context
from node.models import Delivery, Follower
from node.outbox.publish import post_note
from node.storage import leases
from node.storage.leases import claim, release_dead
from tests.helpers import id_of


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _queue_deliveries(ctx: NodeContext, notes: int) -> None:
    """`notes` notes posted by the primary body to its one follower: a delivery each."""
    with Session(ctx.engine) as s:
        s.add(Follower(actor_id=id_of(ctx.primary), follower_uri="https://peer.example/u/x",
                       inbox="https://peer.example/inbox"))
        s.commit()
        for i in range(notes):
            post_note(ctx.tx(s), ctx.primary, f"note {i}")
        s.commit()


def test_a_dead_process_leases_are_freed_and_live_ones_kept(node: Settings) -> None:
    ctx = build_context(node)
    _queue_deliveries(ctx, 3)
    rows = claim(ctx.engine, Delivery, 10, 120.0)
    assert len(rows) == 3
    assert all(r.lease_owner.startswith(f"{leases._HOST}:") for r in rows)
    ids = sorted(r.id for r in rows)
    gone = f"{leases._HOST}:{dead_pid()}:0123456789ab"
    with Session(ctx.engine) as s:
        s.execute(update(Delivery).where(col(Delivery.id).in_(ids[:2])).values(lease_owner=gone))
        s.execute(update(Delivery).where(col(Delivery.id) == ids[2])
                  .values(lease_owner="elsewhere:1:0123456789ab"))
        s.commit()
    # Nothing due: every row is leased (by the dead process, or another machine).
    assert claim(ctx.engine, Delivery, 10, 120.0) == []
    assert release_dead(ctx.engine, Delivery) == 2
    again = claim(ctx.engine, Delivery, 10, 120.0)
    assert sorted(r.id for r in again) == ids[:2]
    # Our own live leases are never taken back.
    assert release_dead(ctx.engine, Delivery) == 0


def test_two_processes_claiming_at_once_each_get_rows(node: Settings) -> None:
    """The second claimer, arriving while the first holds its pick, still leases rows
    (with a SELECT then an UPDATE on SQLite it picked the same rows and got none, and
    its worker slept a poll interval with the queue full). On PostgreSQL SKIP LOCKED
    passes over the first claimer's rows."""
    import threading

    from sqlalchemy import event

    from node.storage.db import make_engine

    ctx = build_context(node)
    with Session(ctx.engine) as s:
        for i in range(20):
            s.add(Follower(actor_id=id_of(ctx.primary), follower_uri=f"https://p{i}.example/u",
                           inbox=f"https://p{i}.example/inbox"))
        s.commit()
        post_note(ctx.tx(s), ctx.primary, "una nota")
        s.commit()
    first, second = make_engine(str(ctx.engine.url)), make_engine(str(ctx.engine.url))
    got: dict[str, list[Any]] = {}
    done = threading.Event()

    def other() -> None:
        got["second"] = claim(second, Delivery, 10, 120.0)
        done.set()

    @event.listens_for(first, "after_cursor_execute")
    def _between(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Right after the first claimer's first statement, the other one claims.
        if "delivery" in statement and "second" not in got and not done.is_set():
            got["second"] = []
            threading.Thread(target=other).start()
            done.wait(1.0)  # it may have to wait for our lock: then it goes after us

    try:
        got["first"] = claim(first, Delivery, 10, 120.0)
        assert done.wait(30)
        a, b = {r.id for r in got["first"]}, {r.id for r in got["second"]}
        assert len(a) == 10 and len(b) == 10 and not a & b
    finally:
        first.dispose()
        second.dispose()


def test_claimed_rows_come_in_the_queue_order(node: Settings) -> None:
    """Due first, then oldest: whatever order the database hands the leased rows back in
    (SQLite's RETURNING promises none), and with or without the order's columns among
    those asked for."""
    from datetime import timedelta

    from node.models import InboxItem
    from node.models.base import utcnow

    ctx = build_context(node)
    now = utcnow()
    # Ids ascending, due times not: the queue order is 3, 1, 4, 0, 2.
    offsets = [40, 20, 50, 10, 30]
    with Session(ctx.engine) as s:
        for i, seconds in enumerate(offsets):
            s.add(InboxItem(activity_id=f"https://peer.example/a/{i}", body="{}",
                            next_attempt_at=now - timedelta(seconds=60 - seconds)))
        s.commit()
    columns = (InboxItem.id, InboxItem.activity_id)
    got = claim(ctx.engine, InboxItem, 10, 120.0, None, columns)
    ids = [r.id for r in got]
    assert [ids.index(r.id) for r in got] == [0, 1, 2, 3, 4]
    by_due = sorted(range(5), key=offsets.__getitem__)
    assert [r.activity_id for r in got] == [f"https://peer.example/a/{i}" for i in by_due]
    with Session(ctx.engine) as s:
        s.execute(update(InboxItem).values(lease_owner=None, lease_until=None))
        s.commit()
    whole = claim(ctx.engine, InboxItem, 3, 120.0)
    assert [r.activity_id for r in whole] == [f"https://peer.example/a/{i}"
                                              for i in by_due[:3]]


def test_claims_build_their_statements_once_and_lease_by_their_parameters(
        node: Settings, monkeypatch: Any) -> None:
    """A claim's statements are built once per queue and condition (building and
    keying them at every claim cost more than the SQL); the moment, the token and the
    limits are parameters, so each claim still leases only what is due then, up to
    its own limit."""
    from datetime import timedelta

    from node.models.base import utcnow
    from node.outbox.breaker import claimable

    ctx = build_context(node)
    _queue_deliveries(ctx, 5)
    built: list[object] = []
    real = leases._Statements.__init__

    def counted(self: Any, *args: Any) -> None:
        built.append(self)
        real(self, *args)

    monkeypatch.setattr(leases, "_BUILT", {})
    monkeypatch.setattr(leases._Statements, "__init__", counted)
    assert claimable() is claimable()
    # Before the rows are due: nothing, whatever was built.
    later = utcnow() - timedelta(hours=1)
    monkeypatch.setattr(leases, "utcnow", lambda: later)
    assert claim(ctx.engine, Delivery, 10, 120.0, claimable()) == []
    monkeypatch.undo()
    monkeypatch.setattr(leases, "_BUILT", {})
    monkeypatch.setattr(leases._Statements, "__init__", counted)
    built.clear()
    first = claim(ctx.engine, Delivery, 2, 120.0, claimable())
    second = claim(ctx.engine, Delivery, 2, 120.0, claimable())
    rest = claim(ctx.engine, Delivery, 10, 120.0, claimable())
    assert [len(first), len(second), len(rest)] == [2, 2, 1]
    assert len({r.id for r in first + second + rest}) == 5
    assert len({r.lease_owner for r in first + second + rest}) == 3
    assert len(built) == 1
