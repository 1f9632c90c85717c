"""Inbox processing for the communal economy: offers and needs rising to a
federation and their updates, exchanges proposed and answered, agreements, and
deliveries with their confirmations and cancellations.

The inbox endpoint has already checked that the activity is its actor's (by HTTP
signature, or by the actor's own proof when another node relayed it); objects that
travel embedded (an offer, an agreement) are checked against their own author's
proof here. Domain rules live in node.economy; refusals change nothing.
"""

from __future__ import annotations

import logging
from typing import Any, ParamSpec, TypeVar

from sqlmodel import select

from node.economy import broker, handovers, party, plans, rising, wire
from node.errors import Problem
from node.federations import graph
from node.inbox import peers
from node.inbox.deps import HandlerDeps
from node.inbox.ownership import id_of
from node.models import Commitment, EconomicEvent, Exchange, JointPlan, LocalActor
from node.tx import Tx

log = logging.getLogger("comuna.economy")
P = ParamSpec("P")
R = TypeVar("R")


class Economic:
    def __init__(self, deps: HandlerDeps) -> None:
        self.ctx = deps.ctx
        self._tx = deps.tx

    async def _proves(self, document: dict[str, Any], author: str) -> bool:
        return await peers.proves(self.ctx, document, author)

    async def _inbox_of(self, actor: str) -> str:
        return await peers.inbox_of(self.ctx, actor)

    async def handle(self, activity: dict[str, Any], bodies: list[LocalActor],
                     sender: str) -> None:
        """`bodies`: ours for which the inbox authority found `sender` entitled."""
        for body in bodies:
            await self._handle(body, activity, sender)

    async def _handle(self, body: LocalActor, activity: dict[str, Any], signer: str) -> None:
        kind, actor = activity.get("type"), id_of(activity.get("actor"))
        obj = activity.get("object")
        try:
            if isinstance(obj, dict) and wire.is_intent(obj):
                await self._intent(body, activity, obj, signer)
            elif kind == "Offer":
                await self._offer(body, actor, obj)
            elif kind == "Accept":
                await self._agreement(body, actor, activity.get("result"))
            elif isinstance(obj, dict) and obj.get("type") == "EconomicEvent":
                await self._event(body, actor, activity, obj)
            elif isinstance(obj, dict) and obj.get("type") == "Commitment":
                await self._cancel(body, actor, activity, id_of(obj))
            elif isinstance(obj, dict) and obj.get("type") == "Plan":
                await self._plan(body, actor, obj)
        except Problem as exc:
            log.warning("economy: refused %s from %s: %s", activity.get("id"), actor, exc.detail)

    async def _intent(self, fed: LocalActor, activity: dict[str, Any], obj: dict[str, Any],
                      signer: str) -> None:
        doc = wire.read_intent(obj)
        if doc.body != id_of(activity.get("actor")) or not await self._proves(obj, doc.body):
            return
        if activity.get("type") == "Update":
            await self._tx(None, rising.update_held, fed, activity, doc)
            return
        # The authority checked that `signer` (who passed it on) is a member body. A
        # member passes up its own offers and needs, and a member federation those of
        # bodies below it: not those of a body elsewhere, signed as they may be.
        if signer != doc.body and not await graph.is_above(self.ctx, signer, doc.body):
            log.warning("economy: %s passed up %s of %s, which is not below it", signer,
                        doc.id, doc.body)
            return
        inbox = await self._inbox_of(doc.body)
        await self._tx(None, rising.hold, fed, signer, activity, doc, inbox)

    async def _offer(self, body: LocalActor, proposer: str, draft: Any) -> None:
        inbox = await self._inbox_of(proposer)
        me = self.ctx.urls.actor(body.handle)
        try:
            await self._tx(None, party.receive_offer, body, me, proposer, inbox, draft)
        except Problem as exc:
            uri = id_of(draft)
            if exc.code == "exists":
                return
            named = exc.intents if isinstance(exc, party.Shortfall) else None
            await self._tx(None, party.refuse_unknown, body, inbox, uri, exc.detail,
                           exc.code, named)

    async def _agreement(self, body: LocalActor, proposer: str, result: Any) -> None:
        if not isinstance(result, dict) or not await self._proves(result, proposer):
            return
        await self._tx(None, party.receive_agreement, body, proposer, result)

    async def _plan(self, body: LocalActor, actor: str, obj: dict[str, Any]) -> None:
        if obj.get("attributedTo") != actor or not await self._proves(obj, actor):
            return
        inbox = await self._inbox_of(actor)
        await self._tx(None, plans.receive, body, self.ctx.urls.actor(body.handle), obj,
                       inbox)

    async def _event(self, body: LocalActor, actor: str, activity: dict[str, Any],
                     obj: dict[str, Any]) -> None:
        doc = wire.read_event(obj)
        await self._tx(None, self._record_event, body, actor, activity, doc)

    def _record_event(self, tx: Tx, body: LocalActor, actor: str,
                      activity: dict[str, Any], doc: wire.EventDoc) -> None:
        handovers.receive(tx, actor, doc)
        broker.relay(tx, body, activity, doc.commitment, actor)

    async def _cancel(self, body: LocalActor, actor: str, activity: dict[str, Any],
                      uri: str) -> None:
        await self._tx(None, self._record_cancel, body, actor, activity, uri)

    def _record_cancel(self, tx: Tx, body: LocalActor, actor: str,
                       activity: dict[str, Any], uri: str) -> None:
        relayed = broker.relay(tx, body, activity, uri, actor)
        handovers.receive_cancel(tx, None if relayed else body, actor, uri)

    # --- Accept / Reject of something named by its id ----------------------------------

    async def answer(self, activity: dict[str, Any], bodies: list[LocalActor],
                     sender: str) -> bool:
        """An `Accept` or `Reject` of an exchange or a delivery known here; False when
        it is about something else (a Join, a Follow, a matter)."""
        obj = id_of(activity.get("object"))
        done = False
        for body in bodies:
            try:
                done = bool(await self._tx(None, self._answer, body, activity, obj, sender)) or done
            except Problem as exc:
                log.warning("economy: refused %s: %s", activity.get("id"), exc.detail)
                done = True
        return bool(done)

    def _answer(self, tx: Tx, body: LocalActor, activity: dict[str, Any], uri: str,
                sender: str) -> bool:
        # Who answers is the activity's actor (relayed answers carry its own proof);
        # the authority checked that `sender` may pass it to us.
        session = tx.session
        actor = id_of(activity.get("actor"))
        accept = activity.get("type") == "Accept"
        reason = str(activity.get("content") or "")
        ex = session.exec(select(Exchange).where(Exchange.uri == uri)).first()
        if ex is not None:
            if ex.proposer_id == body.id:
                broker.receive_answer(tx, body, actor, uri, accept, reason,
                                      str(activity.get("summary") or ""),
                                      _uris(activity.get("target")))
            elif ex.proposer == actor and not accept:
                party.receive_called_off(tx, body, actor, uri)
            return True
        plan = session.exec(select(JointPlan).where(JointPlan.uri == uri.split("#", 1)[0],
                                                    JointPlan.body_id == body.id)).first()
        if plan is not None:
            if "#" in uri:
                plans.receive_answer(tx, body, actor, uri, accept)
            else:
                plans.receive_outcome(tx, body, actor, uri, accept)
            return True
        ev = session.exec(select(EconomicEvent).where(EconomicEvent.uri == uri)).first()
        if ev is not None:
            c = session.exec(select(Commitment).where(Commitment.uri == ev.commitment)).first()
            if c is not None:
                handovers.receive_answer(tx, actor, uri, accept)
                broker.relay(tx, body, activity, c.uri, actor)
            return True
        return False


def _uris(value: Any) -> list[str]:
    """A refusal's `target`: the offers and needs it is about (one or a list)."""
    items = value if isinstance(value, list) else [value]
    return [u for u in (id_of(v) for v in items[:100]) if u]
