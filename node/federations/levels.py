"""Everything from below: the deciding level of a matter is the lowest federation that
covers every body it affects. Pure functions over a graph given as `parents_of`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

ParentsOf = Callable[[str], Iterable[str]]
MAX_DEPTH = 16  # a federation graph deeper than this is treated as broken (or a cycle)


def ancestors(body: str, parents_of: ParentsOf) -> dict[str, int]:
    """`body` and every federation above it, with the number of steps to reach it."""
    depth = {body: 0}
    frontier = [body]
    for step in range(1, MAX_DEPTH + 1):
        nxt = []
        for node in frontier:
            for parent in parents_of(node):
                if parent not in depth:
                    depth[parent] = step
                    nxt.append(parent)
        if not nxt:
            break
        frontier = nxt
    return depth


def deciding_level(affected: Iterable[str], parents_of: ParentsOf) -> str | None:
    """The lowest body that covers all of `affected`, or None if no federation does.

    "Lowest" means the fewest steps up from the farthest affected body; ties go to
    the fewest steps in total, then to the smaller URI, so that every node that
    knows the same graph picks the same level.
    """
    bodies = sorted(set(affected))
    if not bodies:
        return None
    maps = [ancestors(b, parents_of) for b in bodies]
    common = set(maps[0])
    for m in maps[1:]:
        common &= set(m)
    if not common:
        return None
    return min(common, key=lambda c: (max(m[c] for m in maps), sum(m[c] for m in maps), c))


class Route(StrEnum):
    local = "local"  # decide it here
    up = "up"  # send it to a federation above us
    down = "down"  # refuse: it belongs lower ("decide it yourselves")
    elsewhere = "elsewhere"  # not ours and not below us: forward to the right level


@dataclass(frozen=True)
class Routing:
    route: Route
    target: str | None
    reason: str


def route(here: str, affected: Iterable[str], parents_of: ParentsOf) -> Routing:
    """What the body `here` does with a matter affecting `affected`."""
    affected = set(affected)
    level = deciding_level(affected, parents_of)
    if level is None:
        return Routing(Route.down, None,
                       "no federation covers every affected body; nobody can decide it")
    if level == here:
        return Routing(Route.local, here, "this body is the lowest that covers all affected")
    mine = ancestors(here, parents_of)
    if level in mine:
        return Routing(Route.up, level, "it affects bodies beyond this one; it rises to "
                                        "the lowest federation that covers them all")
    below = all(here in ancestors(b, parents_of) for b in affected)
    if below:
        return Routing(Route.down, level, "every affected body is below this federation and "
                                          "a lower one covers them all: decide it there")
    return Routing(Route.elsewhere, level, "this federation does not cover every affected "
                                           "body; it goes to the one that does")
