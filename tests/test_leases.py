"""Leases name their process, so a restarted worker frees what a dead one held."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import update
from sqlmodel import Session, col

from node.context import build_context
from node.models import Delivery, Follower
from node.outbox.publish import post_note
from node.storage import leases
from node.storage.leases import claim, release_dead


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_dead_process_leases_are_freed_and_live_ones_kept(node):
    ctx = build_context(node)
    with Session(ctx.engine) as s:
        s.add(Follower(actor_id=ctx.primary.id, follower_uri="https://peer.example/u/x",
                       inbox="https://peer.example/inbox"))
        s.commit()
        for i in range(3):
            post_note(s, ctx.urls, ctx.primary, f"note {i}")
        s.commit()
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
