"""The federation graph as this node knows it: each body's federations, read from our own
database for local bodies and for remote bodies in our federations, and from actor
documents (cached) for remote bodies in federations elsewhere, confirmed by those
federations' `members` collections."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import timedelta

from sqlmodel import Session, col, select

from node.activitypub.directory import ActorFetchFailed, KeyUnavailable
from node.context import NodeContext
from node.federations import member_lists
from node.federations.levels import MAX_DEPTH
from node.models import FederationLink, LocalActor, RemoteActor
from node.models.base import aware

log = logging.getLogger("comuna.federations")

# How old a remote body's `memberOf` may be when computing a deciding level (seconds).
# Changes are pushed (`Update` of the actor on admission); this bounds a lost one.
GRAPH_MAX_AGE = 600.0
# Before a routing refusal is final, remote copies older than this are fetched again
# (an `Update` may never have reached a node that only cached the actor); younger ones
# are taken as current, which bounds what refused matters can make us fetch.
REFRESH_AGE = 5.0


async def parents_map(ctx: NodeContext, start: Iterable[str]) -> dict[str, list[str]]:
    """`memberOf` of every body reachable upwards from `start` (unknown ones: none)."""
    local, ours = await asyncio.to_thread(_links, ctx)
    known: dict[str, list[str]] = {}
    frontier = list(dict.fromkeys(start))
    for _ in range(MAX_DEPTH):
        pending = [u for u in frontier if u not in known]
        if not pending:
            break
        results = await asyncio.gather(*(_parents(ctx, u, local, ours) for u in pending))
        frontier = []
        for uri, parents in zip(pending, results, strict=True):
            known[uri] = parents
            frontier.extend(parents)
    return known


async def is_above(ctx: NodeContext, federation: str, body: str) -> bool:
    """Whether `federation` is above `body` (at any level), as this node confirms it."""
    parents = await parents_map(ctx, [body])
    return any(federation in above for above in parents.values())


async def warm(ctx: NodeContext, start: Iterable[str]) -> None:
    """Fetch, ahead of need, the actor documents (and so the keys) of every federation
    above `start`: the first matter or decision they sign then verifies without a
    fetch. Best effort; a failure only means the fetch happens later."""
    try:
        await parents_map(ctx, start)
    except Exception:  # never let a warm-up fail the activity
        log.info("warming the federation graph from %s failed", list(start), exc_info=True)


async def refresh(ctx: NodeContext, uris: Iterable[str], done: set[str]) -> bool:
    """Fetch again from their origin the remote bodies among `uris` whose stored copy is
    older than REFRESH_AGE (or missing), each at most once per decision (`done` holds
    those already fetched for it). True if any copy was fetched.

    A fetch that fails for now raises KeyUnavailable, so the inbox row waiting on the
    answer is retried rather than refused; an actor gone for good keeps what we knew."""
    remote = [u for u in dict.fromkeys(uris)
              if u not in done and not _on_this_node(ctx, u)]
    if not remote:
        return False
    fresh = await asyncio.to_thread(_fresh_copies, ctx, remote)
    stale = [u for u in remote if u not in fresh]
    done.update(remote)
    if not stale:
        return False
    results = await asyncio.gather(*(ctx.directory.actor(u, refresh=True) for u in stale),
                                   return_exceptions=True)
    fetched = False
    for uri, got in zip(stale, results, strict=True):
        if isinstance(got, KeyUnavailable):
            raise got
        if isinstance(got, ActorFetchFailed):
            log.info("refreshing %s: %s", uri, got)
        elif isinstance(got, BaseException):
            raise got
        else:
            fetched = True
    return fetched


def _fresh_copies(ctx: NodeContext, uris: list[str]) -> set[str]:
    """Those of `uris` whose stored copy was fetched less than REFRESH_AGE ago."""
    since = ctx.clock.now() - timedelta(seconds=REFRESH_AGE)
    with Session(ctx.engine) as s:
        rows = s.exec(select(RemoteActor.uri, RemoteActor.fetched_at, RemoteActor.expired)
                      .where(col(RemoteActor.uri).in_(uris))).all()
    return {uri for uri, at, expired in rows if not expired and aware(at) > since}


# Read for every matter and decision routed (issue 11): built once.
_ACCEPTED_LINKS = select(col(LocalActor.handle), col(FederationLink.remote_uri),
                         col(FederationLink.direction)).join(
    FederationLink, col(FederationLink.body_id) == col(LocalActor.id)).where(
    col(FederationLink.state) == "accepted")


def _links(ctx: NodeContext) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """In one read: the federations of each of our bodies, and, for each remote body
    that belongs to one of ours, those of ours it belongs to (authoritative: we admitted
    it)."""
    local: dict[str, list[str]] = {}
    ours: dict[str, list[str]] = {}
    with ctx.engine.connect() as conn:
        rows = conn.execute(_ACCEPTED_LINKS).all()
    for handle, remote, direction in rows:
        if direction == "member_of":
            local.setdefault(ctx.urls.actor(handle), []).append(remote)
        else:
            ours.setdefault(remote, []).append(ctx.urls.actor(handle))
    return local, ours


async def _parents(ctx: NodeContext, uri: str, local: dict[str, list[str]],
                   ours: dict[str, list[str]]) -> list[str]:
    """A body's federations as we know them. A remote body says in its `memberOf` what it
    belongs to, but it is no authority on who belongs to a federation:
    - our own federations: exactly those that accepted it here (`ours`), whatever its
      document says or omits;
    - a federation on a third node: only if that federation's own `members` collection
      lists it (member_lists.accepts), which we can check and cache."""
    handle = ctx.urls.handle_of_actor(uri)
    if handle is not None:
        return sorted(local.get(uri, [])) if handle in ctx.actors else []
    admitted = set(ours.get(uri, []))
    try:
        doc = await ctx.directory.actor(uri, max_age=GRAPH_MAX_AGE)
    except ActorFetchFailed:
        return sorted(admitted)
    value = doc.get("memberOf")
    items = value if isinstance(value, list) else [value] if value else []
    claimed = {str(v) for v in items if isinstance(v, str)} - admitted
    elsewhere = sorted(f for f in claimed if not _on_this_node(ctx, f) and f != uri)
    confirmed = await asyncio.gather(*(member_lists.accepts(ctx, f, uri, GRAPH_MAX_AGE)
                                       for f in elsewhere))
    dropped = claimed - {f for f, ok in zip(elsewhere, confirmed, strict=True) if ok}
    if dropped:
        log.info("%s claims to belong to %s; not accepted there", uri, sorted(dropped))
    return sorted(admitted | {f for f, ok in zip(elsewhere, confirmed, strict=True) if ok})


def _on_this_node(ctx: NodeContext, uri: str) -> bool:
    # Anything under our base is ours to answer for, not only the actor URIs we parse.
    base = ctx.urls.base.rstrip("/")
    return uri == base or uri.startswith(base + "/")
