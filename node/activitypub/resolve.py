"""Finding a remote actor from `@handle@host` (WebFinger) or its URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from node.activitypub.fetch import FetchError


async def resolve_actor(ctx: Any, target: str) -> dict[str, Any]:
    if target.startswith(("http://", "https://")):
        doc: dict[str, Any] = await ctx.directory.actor(target, refresh=True)
        return doc
    handle, _, host = target.lstrip("@").partition("@")
    if not handle or not host:
        raise ValueError("give @handle@host or an actor URL")
    schemes = ["https", "http"] if ctx.settings.allow_private_networks else ["https"]
    last: Exception | None = None
    for scheme in schemes:
        url = f"{scheme}://{host}/.well-known/webfinger?resource={quote(f'acct:{handle}@{host}')}"
        try:
            jrd = await ctx.fetcher.get_json(url, accept="application/jrd+json")
        except FetchError as exc:
            last = exc
            continue
        for link in jrd.get("links", []):
            if link.get("rel") == "self" and "json" in str(link.get("type", "")):
                doc = await ctx.directory.actor(str(link["href"]), refresh=True)
                return doc
        raise ValueError(f"{target} has no ActivityPub actor")
    raise ValueError(f"cannot look up {target}: {last}")
