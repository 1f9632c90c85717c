"""Closes votes at their deadline. Runs in `serve` and `worker`; on start it first
closes whatever fell due while the node was down."""

from __future__ import annotations

import asyncio
import logging

from sqlmodel import Session

from node.context import NodeContext
from node.governance import amendments
from node.governance.decisions import close_due

log = logging.getLogger("comuna.governance")


def close_due_now(ctx: NodeContext) -> list[int]:
    with Session(ctx.engine) as s:
        # Amendments first: one due at the same moment still changes the text voted on.
        amendments.close_due(s, ctx.urls)
        closed = close_due(s, ctx.urls)
        s.commit()
    return closed


async def run(ctx: NodeContext, stop: asyncio.Event, every: float = 15.0) -> None:
    while not stop.is_set():
        try:
            closed = await asyncio.to_thread(close_due_now, ctx)
            if closed:
                log.info("closed votes, decisions %s", closed)
                ctx.delivery_wakeup.set()
        except Exception:  # a failed pass is retried on the next tick
            log.exception("closing due votes failed")
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
