"""Where a matter goes from one body, with the graph as this node knows it now.

The only async part of routing (learning remote bodies' `memberOf`); the rules
themselves are the pure functions of levels.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlmodel import Session, select

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


async def plan(ctx: NodeContext, body: LocalActor, affects: list[str]) -> Plan:
    here = ctx.urls.actor(body.handle)
    parents = await graph.parents_map(ctx, [here, *affects])

    def parents_of(uri: str) -> list[str]:
        return parents.get(uri, [])

    routing = levels.route(here, affects, parents_of)
    if routing.route != levels.Route.up or routing.target is None:
        return Plan(routing.route, routing.target, routing.reason)
    def ours() -> list[FederationLink]:
        with Session(ctx.engine) as s:
            return list(s.exec(select(FederationLink).where(
                FederationLink.body_id == body.id, FederationLink.direction == "member_of",
                FederationLink.state == "accepted")).all())

    links = await asyncio.to_thread(ours)
    # The nearest of our federations from which the deciding level can be reached.
    best: tuple[int, str, str] | None = None
    for link in links:
        steps = levels.ancestors(link.remote_uri, parents_of).get(routing.target)
        if steps is not None and (best is None or (steps, link.remote_uri) < best[:2]):
            best = (steps, link.remote_uri, link.remote_inbox)
    if best is None:
        return Plan(levels.Route.down, routing.target,
                    "none of this body's federations leads to the deciding level")
    return Plan(routing.route, routing.target, routing.reason, best[1], best[2])
