"""Closes votes at their deadline. Runs in `serve` and `worker`; on start it first
closes whatever fell due while the node was down.

Each amendment vote and each vote is closed in a transaction of its own: one that
cannot be closed (a bad row, a bug) is retried with backoff and, after some attempts,
parked (`node.retries`), while the others close on time."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from node.context import NodeContext
from node.errors import Problem
from node.events.closing import closing_soon
from node.governance import amendments, decisions
from node.models import Amendment, Proposal
from node.retries import Retries, audit_parked

log = logging.getLogger("comuna.governance")


def new_retries(ctx: NodeContext) -> Retries:
    return Retries("vote clock", on_park=audit_parked(ctx.engine))


def close_due_now(ctx: NodeContext, now: datetime | None = None,
                  retries: Retries | None = None) -> list[int]:
    """Close what is due at `now`; returns the ids of the decisions made."""
    now = now or ctx.clock.now()
    retries = retries or new_retries(ctx)
    with Session(ctx.engine) as s:
        due_amendments = s.exec(select(Amendment.id, Amendment.proposal_id).where(
            Amendment.state == "voting", col(Amendment.closes_at) <= now)
            .order_by(col(Amendment.id))).all()
        due_votes = s.exec(select(Proposal.id).where(
            Proposal.state == "vote", col(Proposal.closes_at) <= now)
            .order_by(col(Proposal.id))).all()
    # Amendments first: one due at the same moment still changes the text voted on,
    # so a proposal whose amendment could not be closed waits with it.
    held: set[int] = set()
    for aid, pid in due_amendments:
        aid = aid or 0
        done, _ = retries.attempt(ctx.engine, ("amendment", aid), now,
                                  partial(_close_amendment, ctx, aid),
                                  partial(_closed_meanwhile, ctx, Amendment, aid, "voting"))
        if not done:
            held.add(pid)
    closed: list[int] = []
    for vote_of in due_votes:
        pid = vote_of or 0
        if pid in held:
            continue
        _, decision = retries.attempt(ctx.engine, ("vote", pid), now,
                                      partial(_close_vote, ctx, pid),
                                      partial(_closed_meanwhile, ctx, Proposal, pid, "vote"))
        if decision is not None:
            closed.append(decision)
    return closed


def announce_closing(ctx: NodeContext) -> int:
    """Tell the members of votes closing within a day (once per vote); returns how many
    were told. Another process's clock telling the same vote first is no failure."""
    with Session(ctx.engine) as s:
        try:
            n = closing_soon(ctx.tx(s))
            s.commit()
        except IntegrityError:
            s.rollback()
            return 0
    return n


def _closed_meanwhile(ctx: NodeContext, table: Any, oid: int, state: str,
                      exc: Exception) -> bool:
    """A `bad-state` refusal because a facilitator, or another process's clock, closed
    it first; not when the row is still open (then the refusal is a fault)."""
    if not (isinstance(exc, Problem) and exc.code == "bad-state"):
        return False
    with Session(ctx.engine) as s:
        row = s.get(table, oid)
        return row is None or row.state != state


def _close_amendment(ctx: NodeContext, aid: int, s: Session) -> str | None:
    a = s.get(Amendment, aid)
    return None if a is None else amendments.close(ctx.tx(s), a)


def _close_vote(ctx: NodeContext, pid: int, s: Session) -> int | None:
    p = s.get(Proposal, pid)
    return None if p is None else decisions.close_vote(ctx.tx(s), p).id


async def run(ctx: NodeContext, stop: asyncio.Event, every: float = 15.0) -> None:
    """Close due votes, and tell of those closing soon, every `every` seconds."""
    retries = new_retries(ctx)
    while not stop.is_set():
        try:
            closed = await asyncio.to_thread(close_due_now, ctx, None, retries)
            if closed:
                log.info("closed votes, decisions %s", closed)
        except Exception:  # reading what is due failed: the next tick reads again
            log.exception("closing due votes failed")
        try:
            await asyncio.to_thread(announce_closing, ctx)
        except Exception:  # telling is not closing: the next tick tries again
            log.exception("telling of votes closing soon failed")
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
