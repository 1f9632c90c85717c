"""Where a matter goes from one body, with the graph as this node knows it now.

The only async part of routing (learning remote bodies' `memberOf`, and refreshing
stale copies of them before a refusal is final); the rules themselves are the pure
functions of levels.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from node.context import NodeContext
from node.federations import graph, levels
from node.models import FederationLink, LocalActor


@dataclass(frozen=True)
class Plan:
    route: levels.Route
    level: str | None  # the deciding body
    reason: str
    # For `up`: the federation of ours on the way to `level`, and its inbox.
    next_hop: str = ""
    next_inbox: str = ""
    # Every body whose federations the plan looked at.
    seen: tuple[str, ...] = ()


async def settled(ctx: NodeContext, body: LocalActor, affects: list[str],
                  holds: Callable[[Plan], bool]) -> Plan:
    """The plan, made again from fresh copies of the remote bodies it looked at before
    an answer that `holds` is false of (a refusal) is taken as final: a copy may predate
    a change of `memberOf` whose `Update` never reached us. Each remote actor is fetched
    at most once per call, and only if its copy is older than graph.REFRESH_AGE. A fetch
    that fails for now raises KeyUnavailable (retry later, do not refuse)."""
    found = await plan(ctx, body, affects)
    done: set[str] = set()
    for _ in range(levels.MAX_DEPTH):
        if holds(found) or not await graph.refresh(ctx, found.seen, done):
            return found
        found = await plan(ctx, body, affects)
    return found


# Read for every matter and decision routed (issue 11): built once.
_MEMBERSHIPS = select(FederationLink).where(
    col(FederationLink.body_id) == bindparam("body"),
    col(FederationLink.direction) == "member_of", col(FederationLink.state) == "accepted")


async def plan(ctx: NodeContext, body: LocalActor, affects: list[str]) -> Plan:
    here = ctx.urls.actor(body.handle)
    parents = await graph.parents_map(ctx, [here, *affects])
    seen = tuple(parents)

    def parents_of(uri: str) -> list[str]:
        return parents.get(uri, [])

    routing = levels.route(here, affects, parents_of)
    if routing.route != levels.Route.up or routing.target is None:
        return Plan(routing.route, routing.target, routing.reason, seen=seen)
    def ours() -> list[FederationLink]:
        with Session(ctx.engine) as s:
            return list(s.exec(_MEMBERSHIPS, params={"body": body.id}).all())

    links = await asyncio.to_thread(ours)
    # The nearest of our federations from which the deciding level can be reached.
    best: tuple[int, str, str] | None = None
    for link in links:
        steps = levels.ancestors(link.remote_uri, parents_of).get(routing.target)
        if steps is not None and (best is None or (steps, link.remote_uri) < best[:2]):
            best = (steps, link.remote_uri, link.remote_inbox)
    if best is None:
        return Plan(levels.Route.down, routing.target,
                    "none of this body's federations leads to the deciding level", seen=seen)
    return Plan(routing.route, routing.target, routing.reason, best[1], best[2], seen)
