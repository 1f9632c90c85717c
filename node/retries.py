"""What a background pass (the vote clock, the economy pass) remembers about the units
of work that failed: each unit runs in its own transaction, and one that raises is
tried again with backoff while the others go on; after `max_attempts` it is parked.

The record is per process and in memory: no table holds it, and a restart (after an
upgrade that fixed the cause, say) tries parked units again. What happened is in the
log; parking also leaves an entry a facilitator can read (see `Retries.on_park`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from node.models.base import utcnow

log = logging.getLogger("comuna.retries")
T = TypeVar("T")

MAX_ATTEMPTS = 8
BASE_SECONDS = 15.0
# Eight attempts at 15 s doubling reach about half an hour between the last ones.
CAP_SECONDS = 3600.0


@dataclass
class Failure:
    attempts: int
    last_error: str
    next_try: datetime
    parked: bool = False


class Retries:
    def __init__(self, name: str, max_attempts: int = MAX_ATTEMPTS,
                 base_seconds: float = BASE_SECONDS, cap_seconds: float = CAP_SECONDS,
                 on_park: Callable[[Hashable, Failure], None] | None = None) -> None:
        self.name = name
        self.max_attempts = max_attempts
        self.base_seconds = base_seconds
        self.cap_seconds = cap_seconds
        # Called once when a unit is parked, to leave a durable trace of it.
        self.on_park = on_park
        self.failures: dict[Hashable, Failure] = {}

    def due(self, key: Hashable, now: datetime) -> bool:
        """Whether `key` may be tried now: never failed, or its backoff has run out."""
        f = self.failures.get(key)
        return f is None or (not f.parked and f.next_try <= now)

    def waiting(self) -> set[Hashable]:
        """Keys not to try before their time (backing off or parked)."""
        return set(self.failures)

    def pending(self, kind: str) -> list[Hashable]:
        """Keys `(kind, id)` that failed and are not parked: to be tried again even if
        nothing about them changed since."""
        return [k for k, f in self.failures.items()
                if not f.parked and isinstance(k, tuple) and k and k[0] == kind]

    def next_try(self) -> datetime | None:
        times = [f.next_try for f in self.failures.values() if not f.parked]
        return min(times) if times else None

    def parked(self) -> dict[Hashable, Failure]:
        return {k: f for k, f in self.failures.items() if f.parked}

    def succeeded(self, key: Hashable) -> None:
        self.failures.pop(key, None)

    def attempt(self, engine: Engine, key: Hashable, now: datetime,
                work: Callable[[Session], T],
                gone: Callable[[Exception], bool] | None = None) -> tuple[bool, T | None]:
        """Run `work` for one unit in a transaction of its own, if the unit is due.
        (True, result) when it committed; (False, None) when it failed or waits.
        `gone(exc)` says a failure only means somebody else did the work first."""
        if not self.due(key, now):
            return False, None
        try:
            with Session(engine) as s:
                result = work(s)
                s.commit()
        # The boundary of one unit: whatever it raised, the others still run, and
        # `failed` logs it with its traceback and schedules the unit's next try.
        except Exception as exc:  # noqa: BLE001
            if gone is not None and self._gone(gone, exc):
                self.succeeded(key)
                return True, None
            self.failed(key, exc, now)
            return False, None
        self.succeeded(key)
        return True, result

    def _gone(self, gone: Callable[[Exception], bool], exc: Exception) -> bool:
        try:
            return gone(exc)
        except Exception:  # could not tell: count it as the unit's failure
            log.exception("%s: checking whether the work was done elsewhere failed",
                          self.name)
            return False

    def failed(self, key: Hashable, exc: BaseException, now: datetime | None = None
               ) -> Failure:
        now = now or utcnow()
        previous = self.failures.get(key)
        attempts = (previous.attempts if previous else 0) + 1
        error = f"{type(exc).__name__}: {exc}"
        delay = min(self.base_seconds * 2 ** (attempts - 1), self.cap_seconds)
        f = Failure(attempts, error, now + timedelta(seconds=delay),
                    parked=attempts >= self.max_attempts)
        self.failures[key] = f
        if f.parked:
            log.error("%s: %s parked after %d failed attempts; last error: %s", self.name,
                      key, attempts, error, exc_info=exc)
            if self.on_park is not None:
                try:
                    self.on_park(key, f)
                except Exception:  # the trace is a courtesy; the log above has it all
                    log.exception("%s: recording that %s is parked failed", self.name, key)
        else:
            log.warning("%s: %s failed (attempt %d, next at %s): %s", self.name, key,
                        attempts, f.next_try.isoformat(timespec="seconds"), error,
                        exc_info=exc)
        return f


def audit_parked(engine: Engine) -> Callable[[Hashable, Failure], None]:
    """An `on_park` that appends the parked unit to the audit log, which is what a
    facilitator can read about the node's own doings (a vote left open past its
    deadline, an offer that never rose, says why there)."""
    from node.storage import audit

    def record(key: Hashable, f: Failure) -> None:
        kind, oid = key if isinstance(key, tuple) and len(key) == 2 else ("unit", key)
        with Session(engine) as s:
            audit.append(s, "node", "background.parked", f"{kind}:{oid}",
                         {"attempts": f.attempts, "error": f.last_error[:500]})
            s.commit()

    return record
