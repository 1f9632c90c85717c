"""How many actor fetches a host may cost us, and how to say "later" when it is spent.

The budget is what a host makes us spend, in a sliding window per host:

- a fetch that fails (network, timeout, 4xx, 5xx, a document that is not the actor)
  and any fetch to a host that has never answered us well cost a full unit: these
  are what a flood of made-up key ids, or a dead server, make us pay for;
- a forced refetch (a signature failed against the cached key) costs a full unit,
  since a sender can provoke one with every request;
- a successful first contact with a host that answers well costs `light` of a unit:
  a burst of real followers from a working instance passes, and only a flood of
  made-up actors from one host (each one a fetch and a stored row) meets a ceiling
  (1/light times the budget per window).

Only `per_host` fetches to one host are in flight at once; the others wait for a
slot (at most `max_wait` seconds), so a burst never opens hundreds of connections.

When the budget is spent the caller gets `Throttled` with the seconds after which it
will have room again; the inbox answers 429 with that `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

UNIT = 10  # a full charge, in integer parts so sums never drift


class Throttled(Exception):
    def __init__(self, host: str, retry_after: int, why: str) -> None:
        super().__init__(f"{why} for {host}; try again in {retry_after} s")
        self.host = host
        self.retry_after = retry_after


@dataclass
class _Host:
    charges: deque[tuple[float, int]] = field(default_factory=deque)
    spent: int = 0
    slots: asyncio.Semaphore | None = None
    users: int = 0  # fetches holding or waiting for a slot
    proven: bool | None = None  # None: not yet looked up


@dataclass
class Ticket:
    """One admitted fetch: what it was charged, to settle when it ends."""

    host: str
    charged: int


class HostThrottle:
    def __init__(self, per_minute: int, per_host: int = 8, light: float = 0.1,
                 window: float = 60.0, max_wait: float = 15.0,
                 clock: Callable[[], float] = time.monotonic, max_hosts: int = 10_000) -> None:
        self.budget = max(per_minute, 1) * UNIT
        self.light = max(1, round(light * UNIT))
        self.per_host = per_host
        self.window = window
        self.max_wait = max_wait
        self.clock = clock
        self.max_hosts = max_hosts
        self._hosts: dict[str, _Host] = {}

    def _state(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            if len(self._hosts) >= self.max_hosts:
                self._prune()
            state = self._hosts[host] = _Host()
        return state

    def _prune(self) -> None:
        """Forget idle hosts (nothing charged in the window, no fetch in flight), so
        that many made-up host names cannot grow this table without end; a forgotten
        host's record is looked up again in the database."""
        now = self.clock()
        for host, state in list(self._hosts.items()):
            self._expire(state, now)
            if not state.charges and not state.users:
                del self._hosts[host]

    def _expire(self, state: _Host, now: float) -> None:
        while state.charges and state.charges[0][0] <= now - self.window:
            state.spent -= state.charges.popleft()[1]

    def _room_in(self, state: _Host, cost: int, now: float) -> int:
        """Seconds until `cost` fits in the window (0: it fits now)."""
        if state.spent + cost <= self.budget:
            return 0
        left = state.spent
        for at, amount in state.charges:
            left -= amount
            if left + cost <= self.budget:
                return max(1, math.ceil(at + self.window - now))
        return max(1, math.ceil(self.window))

    def is_proven(self, host: str) -> bool | None:
        return self._state(host).proven

    def set_proven(self, host: str, proven: bool) -> None:
        state = self._state(host)
        if not state.proven:
            state.proven = proven

    def check(self, host: str) -> None:
        """Refuse at once, without waiting for a slot, when even a light fetch cannot fit."""
        state = self._state(host)
        now = self.clock()
        self._expire(state, now)
        wait = self._room_in(state, self.light, now)
        if wait:
            raise Throttled(host, wait, "too many key fetches")

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's fetch slots, waiting at most `max_wait` for it."""
        state = self._state(host)
        if state.slots is None:
            state.slots = asyncio.Semaphore(self.per_host)
        slots = state.slots
        state.users += 1
        try:
            try:
                await asyncio.wait_for(slots.acquire(), self.max_wait)
            except TimeoutError:
                raise Throttled(host, max(1, math.ceil(self.max_wait)),
                                "too many key fetches waiting") from None
            try:
                yield
            finally:
                slots.release()
        finally:
            state.users -= 1

    def admit(self, host: str, heavy: bool) -> Ticket:
        """Charge one fetch (heavy: a refetch, or the host is not proven) or refuse it."""
        state = self._state(host)
        now = self.clock()
        self._expire(state, now)
        cost = UNIT if heavy or not state.proven else self.light
        wait = self._room_in(state, cost, now)
        if wait:
            raise Throttled(host, wait, "too many key fetches")
        state.charges.append((now, cost))
        state.spent += cost
        return Ticket(host, cost)

    def settle(self, ticket: Ticket, ok: bool) -> None:
        state = self._state(ticket.host)
        if ok:
            state.proven = True
        elif ticket.charged < UNIT:
            # A failing fetch costs a full unit, whatever the host's record.
            extra = UNIT - ticket.charged
            state.charges.append((self.clock(), extra))
            state.spent += extra
