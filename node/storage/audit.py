"""The audit log: every change to membership, roles, statutes, proposals, votes and
decisions appends an entry that commits, by hash, to the one before it.

There is no code path that updates or deletes entries, and the database refuses
both (triggers, see migration 0002). `verify_chain` recomputes every hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import insert, text
from sqlmodel import Session, col, select

from node.models import AuditEntry, LocalActor, Member
from node.models.base import utcnow

GENESIS = "0" * 64

# Who acted, as an entry names it. One form each, so the chain can be read and
# searched: a person of this node, one of its bodies acting as itself, another
# server's actor, or the node's own processing (clocks, retries, arriving decisions).
Who = Member | LocalActor | str | None
# A remote URI is the peer's to choose: anything printable (JSON keeps the chain intact).
_NAMED = re.compile(r"(node|member:\d+|body:[\w.-]+|remote:https?://[^\x00-\x1f\x7f]+)")


def actor_name(who: Who) -> str:
    """`member:<id>`, `body:<handle>`, `remote:<uri>` or `node` (for None)."""
    if who is None:
        return "node"
    if isinstance(who, Member):
        return f"member:{who.id}"
    if isinstance(who, LocalActor):
        return f"body:{who.handle}"
    if not _NAMED.fullmatch(who):
        raise ValueError(f"an audit entry names its actor as member:<id>, body:<handle>, "
                         f"remote:<uri> or node, not {who!r}")
    return who


def _digest(prev: str, seq: int, at: str, actor: str, action: str, subject: str,
            data: str) -> str:
    payload = json.dumps([prev, seq, at, actor, action, subject, data], ensure_ascii=False,
                         separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


# Built once: an entry is appended by most units of work, and building the statements
# each time cost more than running them (issue 11). Only the two columns the next entry
# needs are read; the entry goes in through Core, as nothing reads it back as an object.
_LAST = select(col(AuditEntry.seq), col(AuditEntry.hash)).order_by(
    col(AuditEntry.seq).desc()).limit(1)
_INSERT = insert(AuditEntry)
_LOCK = text("SELECT pg_advisory_xact_lock(7212001)")


def append(session: Session, who: Who, action: str, subject: str,
           data: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    actor = actor_name(who)
    # Appenders are serialised from the read of the last entry to the commit, so that two
    # transactions never claim the same place in the chain: on PostgreSQL by a lock taken
    # first, on SQLite by the write lock, which the unit's own writes take (flushed here,
    # as an ORM read would have done) or, if it has written nothing yet, BEGIN IMMEDIATE
    # (the driver would begin only at our INSERT, after the read).
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.execute(_LOCK)
    session.flush()
    driver: Any = conn.connection.driver_connection
    if not postgres and not driver.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    last = conn.execute(_LAST).first()
    seq = (int(last[0]) + 1) if last else 1
    prev = str(last[1]) if last else GENESIS
    body = json.dumps(data or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    when = at or utcnow()
    digest = _digest(prev, seq, when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), actor, action,
                     subject, body)
    conn.execute(_INSERT, {"seq": seq, "at": when, "actor": actor, "action": action,
                           "subject": subject, "data": body, "prev_hash": prev,
                           "hash": digest})


def verify_chain(session: Session) -> tuple[bool, int | None]:
    """(True, None) if every entry links to the one before; else (False, first bad seq)."""
    prev = GENESIS
    expected_seq = 1
    for entry in session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))):
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=utcnow().tzinfo)
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        digest = _digest(prev, entry.seq, stamp, entry.actor, entry.action, entry.subject,
                         entry.data)
        if entry.seq != expected_seq or entry.prev_hash != prev or entry.hash != digest:
            return False, entry.seq
        prev = entry.hash
        expected_seq += 1
    return True, None


def entry_holds(session: Session, entry: AuditEntry) -> bool:
    """One entry checked without reading the whole chain: its hash recomputes from what
    it says, and it links to the entry before it (an acta shows this for its record)."""
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=utcnow().tzinfo)
    digest = _digest(entry.prev_hash, entry.seq, at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                     entry.actor, entry.action, entry.subject, entry.data)
    if digest != entry.hash:
        return False
    if entry.seq == 1:
        return entry.prev_hash == GENESIS
    before = session.get(AuditEntry, entry.seq - 1)
    return before is not None and before.hash == entry.prev_hash
