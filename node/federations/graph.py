"""The federation graph as this node knows it: each body's `memberOf`, read from our
own database for local bodies and from actor documents (cached) for remote ones."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from sqlmodel import Session, col, select

from node.context import NodeContext
from node.federation.directory import KeyError_
from node.federations.levels import MAX_DEPTH
from node.federations.membership import federations_of
from node.models import FederationLink, LocalActor

# How old a remote body's `memberOf` may be when computing a deciding level (seconds).
# Changes are pushed (`Update` of the actor on admission); this bounds a lost one.
GRAPH_MAX_AGE = 600.0


async def parents_map(ctx: NodeContext, start: Iterable[str]) -> dict[str, list[str]]:
    """`memberOf` of every body reachable upwards from `start` (unknown ones: none)."""
    known: dict[str, list[str]] = {}
    frontier = list(dict.fromkeys(start))
    for _ in range(MAX_DEPTH):
        pending = [u for u in frontier if u not in known]
        if not pending:
            break
        results = await asyncio.gather(*(_parents(ctx, u) for u in pending))
        frontier = []
        for uri, parents in zip(pending, results, strict=True):
            known[uri] = parents
            frontier.extend(parents)
    return known


async def _parents(ctx: NodeContext, uri: str) -> list[str]:
    handle = ctx.urls.handle_of_actor(uri)
    if handle is not None:
        body = ctx.actors.get(handle)
        if body is None:
            return []

        def local() -> list[str]:
            with Session(ctx.engine) as s:
                return federations_of(s, body)

        return await asyncio.to_thread(local)
    # What our own federations know is authoritative: their accepted members.
    def ours() -> list[str]:
        with Session(ctx.engine) as s:
            rows = s.exec(select(LocalActor.handle).join(
                FederationLink, col(FederationLink.body_id) == col(LocalActor.id)).where(
                FederationLink.remote_uri == uri, FederationLink.direction == "has_member",
                FederationLink.state == "accepted")).all()
        return [ctx.urls.actor(h) for h in rows]

    known = await asyncio.to_thread(ours)
    try:
        doc = await ctx.directory.actor(uri, max_age=GRAPH_MAX_AGE)
    except KeyError_:
        return known
    value = doc.get("memberOf")
    items = value if isinstance(value, list) else [value] if value else []
    return sorted(set(known) | {str(v) for v in items if isinstance(v, str)})
