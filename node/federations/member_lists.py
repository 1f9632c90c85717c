"""Remote federations' own word on who belongs to them: the `members` collection their
actor document names, fetched and cached. The federation graph uses it to confirm a
remote body's claim (`memberOf`) to belong to a federation on a third node: a body is a
member only if that federation accepted it, not because it says so."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import defaultdict
from typing import Any

from node.activitypub.directory import ActorDirectory, ActorFetchFailed, netloc_of
from node.activitypub.fetch import FetchError
from node.context import NodeContext

log = logging.getLogger("comuna.federations")

# A list is used for this long (seconds) like the actor documents of the graph; a body
# missing from a list older than RECHECK is looked up again at once, so a body admitted a
# moment ago is not refused for ten minutes, while a false claim costs its federation at
# most one fetch every RECHECK seconds.
MAX_AGE = 600.0
RECHECK = 5.0
# Our own `members` collection is one unpaged page; a longer one is not read further.
MAX_ITEMS = 10_000


class _Lists:
    def __init__(self) -> None:
        self.lists: dict[str, tuple[frozenset[str], float]] = {}
        self.locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


# One cache per actor directory (that is, per node context), dropped with it.
_caches: weakref.WeakKeyDictionary[ActorDirectory, _Lists] = weakref.WeakKeyDictionary()


def collection_of(federation_doc: dict[str, Any]) -> str | None:
    """The `members` collection a federation's document names on its own host, if any."""
    value = federation_doc.get("members")
    url = value.get("id") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    if netloc_of(url) != netloc_of(str(federation_doc.get("id", ""))):
        return None
    return url


async def accepts(ctx: NodeContext, federation: str, member: str, max_age: float = MAX_AGE
                  ) -> bool:
    """Whether `federation` (a remote actor) lists `member` among its members.

    A federation whose document names no `members` collection cannot be checked: its
    member's claim stands (documented in docs/federation.md, "Graph trust"). One that
    names one but cannot be read now, and was never read, confirms nothing."""
    try:
        doc = await ctx.directory.actor(federation, max_age=max_age)
    except ActorFetchFailed:
        return False
    url = collection_of(doc)
    if url is None:
        return True
    cache = _caches.setdefault(ctx.directory, _Lists())
    hit = cache.lists.get(url)
    if hit is not None:
        items, age = hit[0], time.monotonic() - hit[1]
        if (member in items and age < max_age) or (member not in items and age < RECHECK):
            return member in items
    async with cache.locks[url]:
        newer = cache.lists.get(url)  # another task may have read it meanwhile
        if newer is not None and time.monotonic() - newer[1] < RECHECK:
            return member in newer[0]
        try:
            items = await _fetch(ctx, url)
        except (FetchError, ValueError) as exc:
            log.info("members of %s unreadable (%s); using the last list", federation, exc)
            return newer is not None and member in newer[0]
        cache.lists[url] = (items, time.monotonic())
        return member in items


async def _fetch(ctx: NodeContext, url: str) -> frozenset[str]:
    doc = await ctx.directory.fetcher.get_json(url, same_host=True)
    if doc.get("id") != url:
        raise ValueError("the collection has another id")
    raw = doc.get("orderedItems", doc.get("items", []))
    if not isinstance(raw, list):
        raise ValueError("the collection lists no items")
    return frozenset(x if isinstance(x, str) else str(x.get("id", ""))
                     for x in raw[:MAX_ITEMS] if isinstance(x, str | dict))


async def members(ctx: NodeContext, federation: str, max_age: float = MAX_AGE
                  ) -> frozenset[str]:
    """Who a remote federation lists as its members (cached like `accepts`); empty when
    it names no collection or it cannot be read and was never read."""
    try:
        doc = await ctx.directory.actor(federation, max_age=max_age)
    except ActorFetchFailed:
        return frozenset()
    url = collection_of(doc)
    if url is None:
        return frozenset()
    cache = _caches.setdefault(ctx.directory, _Lists())
    hit = cache.lists.get(url)
    if hit is not None and time.monotonic() - hit[1] < max_age:
        return hit[0]
    async with cache.locks[url]:
        try:
            items = await _fetch(ctx, url)
        except (FetchError, ValueError) as exc:
            log.info("members of %s unreadable (%s)", federation, exc)
            return hit[0] if hit is not None else frozenset()
        cache.lists[url] = (items, time.monotonic())
        return items
