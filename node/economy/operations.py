"""What the JSON API and the pages call: each user action of the economy as one
domain operation (the caller commits)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from node.activitypub.directory import ActorFetchFailed
from node.context import NodeContext
from node.economy import intents, local, party, plans, rising
from node.economy.offered import Viewer
from node.errors import Problem, not_found
from node.governance.bodies import body_by_handle
from node.models import Exchange, Intent, LocalActor, Member
from node.tx import Tx


def publish(tx: Tx, body: LocalActor, side: str,
            kind: str, amount: Decimal, unit: str, enterprise: str | None = None,
            summary: str = "", location: str = "", starts_at: datetime | None = None,
            ends_at: datetime | None = None, rise_after: int = 86400,
            in_return: str | None = None) -> Intent:
    """Publish, then match inside the body at once: local first."""
    row = intents.publish(tx, body, side, kind, amount, unit, enterprise,
                          summary, location, starts_at, ends_at, rise_after, in_return)
    local.match(tx, body)
    tx.session.flush()
    tx.session.refresh(row)
    tx.wake("economy")  # brokering and rising look at it next
    return row


def withdraw(tx: Tx, body: LocalActor, intent_id: int) -> Intent:
    row = intents.own(tx.session, body, intent_id)
    intents.withdraw(tx, body, row)
    rising.announce_change(tx, body, row)
    return row


def answer(tx: Tx, body: LocalActor, exchange_id: int, accept: bool,
           reason: str = "") -> Exchange:
    ex = tx.session.get(Exchange, exchange_id)
    if ex is None:
        raise not_found("exchange")
    if ex.mode == "allocation":
        local.answer(tx, body, ex, accept)
    else:
        party.answer(tx, body, ex, accept, reason)
    tx.wake("economy")
    return ex


async def prepare_plan(ctx: NodeContext, handle: str, title: str, content: str,
                       processes: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    """Build the plan and find every participant's inbox (a fetch for remote bodies):
    what `plans.draft` records and sends."""
    def build() -> dict[str, Any]:  # SQL: in a worker thread, not on the event loop
        with ctx.unit() as tx:
            body = body_by_handle(tx.session, handle)
            return plans.build(tx, body, title, content, processes)

    doc = await asyncio.to_thread(build)
    inboxes: dict[str, str] = {}
    for p in plans.participants(doc):
        local = ctx.urls.handle_of_actor(p)
        if local is not None:
            if local not in ctx.actors:
                raise Problem(422, "unknown-body", f"no body {local} on this node",
                              field="provider")
            continue
        try:
            actor = await ctx.directory.actor(p)
        except ActorFetchFailed as exc:
            raise Problem(422, "unknown-body", f"cannot reach {p}: {exc}",
                          field="provider") from exc
        inboxes[p] = str(actor.get("inbox") or "")
    return doc, inboxes


async def draft_plan(ctx: NodeContext, member: Member, handle: str, title: str, content: str,
                     processes: list[dict[str, Any]]) -> dict[str, Any]:
    """Prepare the plan, then record and send it in one transaction."""
    doc, inboxes = await prepare_plan(ctx, handle, title, content, processes)

    def write() -> dict[str, Any]:
        with Session(ctx.engine) as s:
            body = body_by_handle(s, handle)
            me = s.merge(member)
            row = plans.draft(ctx.tx(s, me), body, doc, inboxes)
            s.commit()
            s.refresh(row)
            return Viewer(s, ctx.urls, me, body).plan(row, {})

    return await asyncio.to_thread(write)
