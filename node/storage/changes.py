"""A change feed in the database, so that every process of a node (each web worker of
`comuna serve --workers N`, each `comuna worker`) learns within a second that data it
keeps in memory changed in another process.

A writer calls `bump(session, topic)` in the transaction that makes the change, so the
new version is visible exactly when the change is. A reader keeps a `ChangeFeed`: it
reads the few counters at most once per interval, when it needs the data anyway, and
reloads the topics whose version moved. Reading is one SELECT of a handful of rows;
nothing is pushed, so a process that is idle costs the database nothing.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from node.models import NodeChange

log = logging.getLogger(__name__)

BODIES = "bodies"  # local_actor rows: bodies created, statutes changed
BLOCKS = "blocks"  # peer_host.blocked
KEYS = "keys"  # remote actors' cached documents and keys expired by a facilitator

# How stale a process may be after a change made elsewhere (the promise in the docs).
CHECK_EVERY = 1.0


def bump(session: Session, topic: str) -> None:
    """Mark `topic` changed; commits with the caller's transaction."""
    result = session.execute(update(NodeChange).where(col(NodeChange.topic) == topic)
                             .values(version=col(NodeChange.version) + 1))
    if not getattr(result, "rowcount", 0):
        # The migration seeds the known topics; a new one starts here.
        session.add(NodeChange(topic=topic, version=1))
        session.flush()


def bump_now(engine: Engine, topic: str) -> None:
    """`bump` in a transaction of its own, for changes made by code that commits itself."""
    with Session(engine) as s:
        bump(s, topic)
        s.commit()


# Read about once a second by every process: built once.
_VERSIONS = select(col(NodeChange.topic), col(NodeChange.version))


def versions(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(_VERSIONS).all()
    return {str(topic): int(version) for topic, version in rows}


class ChangeFeed:
    """What one process has seen of the counters, and when it last looked."""

    def __init__(self, engine: Engine, every: float = CHECK_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.every = every
        self.clock = clock
        self._seen: dict[str, int] = {}
        self._checked = -math.inf
        self._lock = threading.Lock()

    def due(self) -> bool:
        return self.clock() - self._checked >= self.every

    def prime(self) -> None:
        """Take the current versions as seen: call before loading the data they cover,
        so a change made during the load is noticed at the next poll."""
        with self._lock:
            self._seen = versions(self.engine)
            self._checked = self.clock()

    def poll(self, force: bool = False) -> set[str]:
        """Topics whose version moved since the last poll. Reads the database only when
        an interval has passed since the last read, or when forced."""
        with self._lock:
            if not force and not self.due():
                return set()
            self._checked = self.clock()
            try:
                current = versions(self.engine)
            except SQLAlchemyError as exc:
                # Serving slightly stale data beats failing the request that asked; the
                # next poll tries again.
                log.warning("change feed not read: %s", exc)
                return set()
            changed = {t for t in current.keys() | self._seen.keys()
                       if current.get(t) != self._seen.get(t)}
            self._seen = current
            return changed
