"""What inbox handlers ask of the network about a peer: whether a document carries
its author's own proof, and where the author's inbox is."""

from __future__ import annotations

import logging
from typing import Any

from node.context import NodeContext
from node.inbox.verify import Forbidden, verify_author_proof

log = logging.getLogger("comuna.inbox")


async def proves(ctx: NodeContext, document: dict[str, Any], author: str) -> bool:
    """True if `document` carries `author`'s valid FEP-8b32 proof (refusals logged).

    A key that cannot be fetched right now is no verdict: KeyUnavailable propagates, so
    the inbox row fails this attempt and is retried with backoff instead of being
    dropped for good.
    """
    try:
        await verify_author_proof(document, author, ctx.directory)
    except Forbidden as exc:
        log.warning("refused %s: %s", document.get("id"), exc)
        return False
    return True


async def inbox_of(ctx: NodeContext, actor: str) -> str:
    doc = await ctx.directory.actor(actor)
    endpoints = doc.get("endpoints")
    shared = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None
    return str(doc.get("inbox") or shared or "")
