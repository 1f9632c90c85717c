"""The bodies a new matter may affect, as the federation graph shows them from one body:
its federations, the other member bodies of each (that federation's own `members`
collection, or our links for a federation on this node), and its own member bodies.
The new-proposal form offers them by name, so a proposal written on the web says which
bodies it affects and can be sent to the federation that decides it."""

from __future__ import annotations

import asyncio
import logging

from sqlmodel import Session, select

from node.activitypub.directory import KeyLookupFailed
from node.context import NodeContext
from node.federations import member_lists
from node.models import FederationLink, LocalActor

log = logging.getLogger("comuna.federations")

# A form offers at most this many; a national federation is chosen as itself.
MAX_OFFERED = 200
# How long a page waits for remote lists and documents before it offers what it knows.
WAIT_SECONDS = 4.0


def _links(ctx: NodeContext, body: LocalActor) -> tuple[list[str], dict[str, list[str]]]:
    """The body's accepted federations, and for those on this node their accepted
    members, in one read."""
    with Session(ctx.engine) as s:
        rows = s.exec(select(FederationLink.remote_uri, FederationLink.direction).where(
            FederationLink.body_id == body.id, FederationLink.state == "accepted")).all()
        feds = sorted(u for u, d in rows if d == "member_of")
        local: dict[str, list[str]] = {"": sorted(u for u, d in rows if d == "has_member")}
        for fed in feds:
            handle = ctx.urls.handle_of_actor(fed)
            owner = s.exec(select(LocalActor).where(LocalActor.handle == handle)).first() \
                if handle else None
            if owner is not None:
                local[fed] = [ctx.urls.actor(owner.handle), *sorted(s.exec(select(
                    FederationLink.remote_uri).where(
                    FederationLink.body_id == owner.id, FederationLink.state == "accepted",
                    FederationLink.direction == "has_member")).all())]
    return feds, local


async def _gathered(ctx: NodeContext, body: LocalActor) -> list[str]:
    feds, local = await asyncio.to_thread(_links, ctx, body)
    remote = [f for f in feds if f not in local]
    lists = await asyncio.gather(*(member_lists.members(ctx, f) for f in remote),
                                 return_exceptions=True)
    found = [*feds, *local[""]]
    for fed in feds:
        found += local.get(fed, [])
    for got in lists:
        if isinstance(got, frozenset):
            found += sorted(got)
    me = ctx.urls.actor(body.handle)
    uris = [u for u in dict.fromkeys(found) if u != me][:MAX_OFFERED]
    # Their names are in their documents: fetch those not held yet (kept for next time).
    base = ctx.urls.base.rstrip("/") + "/"
    await asyncio.gather(*(ctx.directory.actor(u) for u in uris if not u.startswith(base)),
                         return_exceptions=True)
    return uris


async def neighbours(ctx: NodeContext, body: LocalActor) -> list[str]:
    """Actor URIs of the bodies a matter of `body` may affect (never `body` itself). What
    cannot be read within WAIT_SECONDS is left out: the federations themselves and our
    own links are always offered."""
    try:
        return await asyncio.wait_for(_gathered(ctx, body), WAIT_SECONDS)
    except (TimeoutError, KeyLookupFailed) as exc:
        log.info("neighbours of %s: %s; offering what is known here", body.handle, exc)
    feds, local = await asyncio.to_thread(_links, ctx, body)
    found = [*feds, *local[""], *(u for f in feds for u in local.get(f, []))]
    me = ctx.urls.actor(body.handle)
    return [u for u in dict.fromkeys(found) if u != me][:MAX_OFFERED]
