"""Work that waits for a commit: waking the loops that act on what was just stored.

Publishing queues delivery rows; the delivery loop must hear of them only once they
are durable (woken earlier it finds nothing and sleeps until its next poll), and
never when the transaction is rolled back. So the domain asks, inside the
transaction, for a topic to be woken (`wake(session, "delivery")`), and the wake
happens after the session's commit, from whichever thread committed. Which loops
exist is the node's business: `build_context` registers its engine's wake-ups here,
and a session on an engine nobody registered (a CLI command, a test without loops)
wakes nothing.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger("comuna.wake")
_PENDING = "comuna.wake"
_CALLS = "comuna.after_commit"
# engine -> topic -> wake. Weak, so a disposed node's engine takes its wake-ups along.
_WAKERS: weakref.WeakKeyDictionary[Engine, dict[str, Callable[[], None]]] = (
    weakref.WeakKeyDictionary())


def register(engine: Engine, wakers: dict[str, Callable[[], None]]) -> None:
    _WAKERS[engine] = dict(wakers)


def _begun(session: Session) -> None:
    # Asked before anything was written, the work must still belong to a transaction:
    # a rollback of none fires no event and would leave it for the next commit.
    if not session.in_transaction():
        session.begin()


def wake(session: Session, topic: str) -> None:
    """Wake `topic`'s loop once this session's transaction commits."""
    _begun(session)
    pending: set[str] = session.info.setdefault(_PENDING, set())
    pending.add(topic)


def call(session: Session, fn: Callable[[], None]) -> None:
    """Run `fn` once this session's transaction commits (dropped on rollback)."""
    _begun(session)
    calls: list[Callable[[], None]] = session.info.setdefault(_CALLS, [])
    calls.append(fn)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for fn in session.info.pop(_CALLS, []):
        try:
            fn()
        except Exception:  # committed already: the caller must not think otherwise
            log.exception("an after-commit call failed")
    topics: set[str] = session.info.pop(_PENDING, set())
    if not topics:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    wakers = _WAKERS.get(engine, {})
    for topic in sorted(topics):
        waker = wakers.get(topic)
        if waker is None:
            continue
        try:
            waker()
        except Exception:
            # The transaction is committed: a wake-up that failed (a loop closing at
            # shutdown) must not make the caller believe it was not, and retry work
            # already done. The loop's poll finds the rows.
            log.exception("waking %s after a commit failed", topic)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous: SessionTransaction) -> None:
    # What was asked inside a transaction that did not commit must not run later, when
    # the same session commits something else. The "soft" event fires on every
    # rollback, even of a transaction that never reached the database; a savepoint's
    # rollback leaves the outer transaction, and what it asked for, alone.
    if previous.parent is not None:
        return
    session.info.pop(_PENDING, None)
    session.info.pop(_CALLS, None)
