"""What an inbox handler is given: the node's context and a way to run a domain service
in a transaction of its own, off the event loop.

The handlers (`matters.Federated`, `economic.Economic`, `projectbank.ProjectBank`) get
this and nothing else, so they do not depend on the processor that dispatches to them
(its queue, leases, refusals), and a test can hand them a different `tx`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, Protocol, TypeVar, cast

from node.context import NodeContext
from node.models import LocalActor
from node.storage.audit import Who
from node.tx import Tx

P = ParamSpec("P")
R = TypeVar("R")


def transact(ctx: NodeContext, who: Who, func: Callable[Concatenate[Tx, P], R],
             *args: P.args, **kwargs: P.kwargs) -> R:
    """`func(tx, *args)` in one unit of work acted by `who`, committed when it returns."""
    with ctx.unit(who) as tx:
        # ctx.actors is a per-process cache; services get the body as stored now
        # (its statute may have changed since the cache was filled).
        fresh = [tx.session.get(LocalActor, a.id) if isinstance(a, LocalActor) else a
                 for a in args]
        result = cast("Callable[..., R]", func)(tx, *fresh, **kwargs)
        tx.commit()
        return result


class RunTx(Protocol):
    """Runs `func(tx, *args)` in a unit of work of its own acted by `who` (the remote
    sender as `remote:<uri>`, or None where the domain names the actor itself), in a
    worker thread: the services are synchronous and the loop serves the web side
    meanwhile."""

    def __call__(self, who: Who, func: Callable[Concatenate[Tx, P], R], /,
                 *args: P.args, **kwargs: P.kwargs) -> Awaitable[R]: ...


@dataclass(frozen=True)
class InThread:
    """The real `RunTx`: `transact` on the node's context, in a worker thread."""

    ctx: NodeContext

    async def __call__(self, who: Who, func: Callable[Concatenate[Tx, P], R], /,
                       *args: P.args, **kwargs: P.kwargs) -> R:
        # A closure: mypy cannot solve `to_thread(transact, ...)`'s nested ParamSpec.
        def run() -> R:
            return transact(self.ctx, who, func, *args, **kwargs)
        return await asyncio.to_thread(run)


@dataclass(frozen=True)
class HandlerDeps:
    """`ctx`: urls, the actor directory, the engine for reads, and what the domain's
    asynchronous helpers (routing, graph, peers) take. `tx`: every write. `warm`: asks for
    the federation graph above some bodies to be fetched ahead of need, later
    (node/inbox/warmups.py)."""

    ctx: NodeContext
    tx: RunTx
    warm: Callable[[Iterable[str]], None]

    @classmethod
    def of(cls, ctx: NodeContext, warm: Callable[[Iterable[str]], None]) -> HandlerDeps:
        return cls(ctx, InThread(ctx), warm)

