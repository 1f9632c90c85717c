"""The economy's background pass, in `serve` and `worker`: match inside each body
what changed, broker what each federation holds, and send up what is due to rise.
A pass runs when something changed (`economy_wakeup`) or after a tick."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlmodel import Session, col, func, select

from node.context import NodeContext
from node.economy import broker, local, plans, rising
from node.models import Intent, LocalActor
from node.models.base import aware
from node.retries import Retries, audit_parked
from node.waiting import first_of

log = logging.getLogger("comuna.economy")
OVERLAP = timedelta(seconds=5)


def new_retries(ctx: NodeContext) -> Retries:
    return Retries("economy pass", on_park=audit_parked(ctx.engine))


def next_rise(ctx: NodeContext, waiting: Collection[int] = ()) -> datetime | None:
    """When the next offer or need is due to rise, leaving out those that failed and
    wait for their retry (`waiting`): they are woken by the retry, not by this."""
    with Session(ctx.engine) as s:
        q = select(func.min(Intent.rise_at)).where(
            Intent.state == "open", col(Intent.rise_at).is_not(None))
        if waiting:
            q = q.where(col(Intent.id).not_in(list(waiting)))
        return s.exec(q).one()


def one_pass(ctx: NodeContext, since: datetime, retries: Retries | None = None,
             now: datetime | None = None) -> tuple[int, int, int]:
    """(exchanges inside bodies, exchanges brokered, intents sent up and plans
    answered). Each unit runs in a transaction of its own: matching inside one body,
    brokering for one federation, sending one intent up, answering one decided plan. One
    that fails is tried again (with backoff, through `retries`) even if nothing
    about it changes meanwhile; the others go on."""
    now = now or ctx.clock.now()
    retries = retries or new_retries(ctx)
    with Session(ctx.engine) as s:
        changed = s.exec(select(Intent.holder_id, func.max(Intent.received_from)).where(
            col(Intent.updated_at) >= since).group_by(col(Intent.holder_id))).all()
        rising_due = [row.id or 0 for row in rising.due(s, now)]
        decided = plans.decided_unanswered(s)
    to_match = {holder for holder, _ in changed} | _ids(retries, "match")
    to_broker = {holder for holder, received in changed if received} | _ids(retries, "broker")
    inside = brokered = risen = 0
    for holder in sorted(to_match):
        _, n = retries.attempt(ctx.engine, ("match", holder), now,
                               partial(_match, ctx, holder))
        inside += n or 0
    for holder in sorted(to_broker):
        _, n = retries.attempt(ctx.engine, ("broker", holder), now,
                               partial(_broker, ctx, holder))
        brokered += n or 0
    for intent_id in rising_due:
        _, n = retries.attempt(ctx.engine, ("rise", intent_id), now,
                               partial(_rise, ctx, intent_id, now))
        risen += n or 0
    # Joint plans whose proposal the body has decided get the body's answer, each on
    # its own. One that failed is still unanswered, so it is listed again each pass and
    # `retries` holds it back until its backoff is over.
    for plan_id in decided:
        _, n = retries.attempt(ctx.engine, ("plan", plan_id), now,
                               partial(_answer_plan, ctx, plan_id))
        risen += n or 0
    return inside, brokered, risen


def _ids(retries: Retries, kind: str) -> set[int]:
    return {int(key[1]) for key in retries.pending(kind) if isinstance(key, tuple)}


def _match(ctx: NodeContext, holder: int, s: Session) -> int:
    body = s.get(LocalActor, holder)
    return 0 if body is None else len(local.match(ctx.tx(s), body))


def _broker(ctx: NodeContext, holder: int, s: Session) -> int:
    federation = s.get(LocalActor, holder)
    return 0 if federation is None else len(broker.run(ctx.tx(s), federation))


def _rise(ctx: NodeContext, intent_id: int, now: datetime, s: Session) -> int:
    row = s.get(Intent, intent_id)
    # Read again in this transaction: another process may have sent it up meanwhile.
    if row is None or row.state != "open" or row.rise_at is None or aware(row.rise_at) > now:
        return 0
    return int(bool(rising.rise(ctx.tx(s), row)))


def _answer_plan(ctx: NodeContext, plan_id: int, s: Session) -> int:
    return plans.answer_decided(ctx.tx(s), plan_id)


async def run(ctx: NodeContext, stop: asyncio.Event) -> None:
    since = datetime(1970, 1, 1, tzinfo=UTC)
    retries = new_retries(ctx)
    while not stop.is_set():
        ctx.economy_wakeup.clear()
        started = ctx.clock.now()
        try:
            inside, brokered, risen = await asyncio.to_thread(one_pass, ctx, since, retries)
            # A unit that failed is remembered by `retries`, not by `since`. A row
            # stamped just before this pass began may have committed after it read:
            # the next pass looks back a little further (matching again is harmless).
            since = started - OVERLAP
            if inside or brokered or risen:
                log.info("economy: %d matched inside, %d brokered, %d sent up", inside,
                         brokered, risen)
        except Exception:  # reading what changed failed: the next pass reads again
            log.exception("economy pass failed")
        wait = ctx.settings.economy_tick_seconds
        waiting = {int(k[1]) for k in retries.waiting()
                   if isinstance(k, tuple) and k[0] == "rise"}
        retry_at = retries.next_try()
        try:
            due = await asyncio.to_thread(next_rise, ctx, waiting)
            # Wake when the next offer or need is due to rise, or the next failed unit
            # is due to be tried again, not a tick later.
            for at in (due, retry_at):
                if at is not None:
                    wait = min(wait, max((aware(at) - ctx.clock.now()).total_seconds(), 0.0) + 0.05)
        except Exception:
            log.exception("reading the next rise failed")
        await first_of(ctx.economy_wakeup, stop, timeout=wait)


