"""The node's sense of time, injectable.

Deadlines (votes closing, retries, backoff) are read from the clock handed down in
the unit of work (`Tx.now()`, from `NodeContext.clock`) rather than from the wall,
so a test moves time forward instead of sleeping through it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...


@dataclass(frozen=True)
class SystemClock:
    """The wall clock, optionally run ahead by a fixed offset."""

    offset: timedelta = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class ManualClock:
    """A clock that moves only when told: for tests that cross deadlines."""

    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at


SYSTEM = SystemClock()
