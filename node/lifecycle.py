"""Lifecycles as state graphs: what may happen to a thing with a life (a proposal, a
mandate, an exchange…) and the one place that moves it.

Each kind of thing declares a `Graph`: its states (a `StrEnum`) and, per action,
the states it may start from and the state it leads to. `Graph.move` changes the
state in the database only if the row is still in a starting state (compare and
set), so two people, or a person and a clock, acting at the same moment cannot
both win. Who may take an action is a separate question, answered by each domain's
`available_actions(session, member, thing)`: the mutators check it, the pages show
only those actions, and the JSON API lists them in an `actions` field, so a client
never has to guess the rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from node.errors import Problem
from node.models.base import utcnow


@dataclass(frozen=True)
class Step:
    sources: frozenset[str]
    target: str


@dataclass
class Graph:
    """States and transitions of one kind of thing, stored in `model.<column>`."""

    name: str
    model: type[Any]
    states: type[StrEnum]
    steps: dict[str, Step] = field(default_factory=dict)
    column: str = "state"
    # Set `updated_at` with the state, when the table has one.
    touch: bool = True

    def step(self, action: str, sources: Iterable[str], target: str) -> Graph:
        names = {str(s) for s in self.states}
        bad = [s for s in [*sources, target] if str(s) not in names]
        if bad:
            raise ValueError(f"{self.name}: unknown states {bad} for {action}")
        self.steps[action] = Step(frozenset(str(s) for s in sources), str(target))
        return self

    def may(self, action: str, state: str) -> bool:
        """Whether the graph allows `action` from `state` (not who may take it)."""
        step = self.steps.get(action)
        return step is not None and str(state) in step.sources

    def actions_from(self, state: str) -> list[str]:
        return [a for a, st in self.steps.items() if str(state) in st.sources]

    def move(self, session: Session, obj: Any, action: str, **values: Any) -> None:
        """Take `action` on `obj`: one conditional UPDATE (with `values` set beside the
        state), refused with 409 `bad-state` if the row has already left the states
        the action starts from."""
        step = self.steps.get(action)
        if step is None:
            raise KeyError(f"{self.name} has no action {action!r}")
        current = str(getattr(obj, self.column))
        if current not in step.sources:
            raise Problem(409, "bad-state", f"this {self.name} is {current}: cannot {action}",
                          state=current, action=action)
        table = self.model
        changes = {self.column: step.target, **values}
        if self.touch and hasattr(table, "updated_at"):
            changes["updated_at"] = utcnow()
        result = session.execute(update(table).where(
            col(table.id) == obj.id,
            col(getattr(table, self.column)).in_(sorted(step.sources))).values(**changes))
        if getattr(result, "rowcount", 1) != 1:
            raise Problem(409, "bad-state",
                          f"this {self.name} changed meanwhile: cannot {action}",
                          action=action)
        for k, v in changes.items():
            setattr(obj, k, v)

    def describe(self) -> list[tuple[str, list[str], str]]:
        """(action, from states, to state) rows, for docs and tests."""
        return [(a, sorted(st.sources), st.target) for a, st in self.steps.items()]
