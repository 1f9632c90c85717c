"""Inbox processing for federated matters: proposals sent up, matters and decisions
passed down (FEP-1b12 `Announce`), mandates, recalls and mandated votes.

Everything that travelled through another node is checked against its author's own
proof (FEP-8b32), not only against the HTTP signature of the last hop; then the
domain services in node.federations decide what it means. Refusals go back to the
sender as `Reject` with the reason, and change nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlmodel import Session

from node.activitypub.directory import KeyLookupFailed
from node.errors import Problem
from node.federations import (
    amendment_news,
    graph,
    mandates,
    matters,
    objects,
    outcomes,
    routing,
    vote_news,
)
from node.federations.levels import Route
from node.inbox import peers
from node.inbox.deps import HandlerDeps
from node.inbox.ownership import id_of
from node.models import LocalActor

log = logging.getLogger("comuna.federated")


class Federated:
    def __init__(self, deps: HandlerDeps) -> None:
        self.ctx = deps.ctx
        self._tx = deps.tx
        self._warm = deps.warm

    async def handle(self, activity: dict[str, Any], bodies: list[LocalActor],
                     sender: str) -> None:
        """`bodies`: ours for which the inbox authority found `sender` entitled to send
        this (our bodies whose federation it is, or whose member body it is)."""
        kind, actor = activity.get("type"), id_of(activity.get("actor"))
        obj = activity.get("object")
        if kind == "Announce" and isinstance(obj, dict):
            await self._announced(sender, obj, bodies)
            return
        if kind == "Delete":
            for body in bodies:
                await self._tx(f"remote:{sender}", mandates.receive_recall,
                               body, sender, id_of(obj))
            return
        if not isinstance(obj, dict):
            return
        otype = obj.get("type")
        for body in bodies:
            if kind == "Update" and otype == objects.PROPOSAL:
                # A new version from the federation that decides the matter.
                await self._from_federation(body, sender, activity, obj, signer=sender)
            elif kind == "Create" and otype == "Note":
                await self._decision(body, sender, activity, obj)
            elif kind == "Create" and otype == objects.PROPOSAL:
                await self._proposal_from_below(body, activity, obj)
            elif kind == "Create" and otype in (objects.MANDATE, objects.VOTE):
                await self._from_member(body, actor, activity, obj)
            elif kind == "Create" and otype == vote_news.QUESTION and obj.get("matter"):
                await self._tx(f"remote:{sender}", vote_news.receive_open, body, sender, obj)
            elif otype == amendment_news.AMENDMENT:
                # Sent by the federation itself (the inbox checked it is the actor and
                # one of the body's federations); kept only for a matter it decides.
                await self._tx(f"remote:{sender}", amendment_news.receive, body, sender, obj)

    # --- who it is for -------------------------------------------------------------

    async def _inbox_of(self, actor: str) -> str:
        return await peers.inbox_of(self.ctx, actor)

    async def _proves(self, document: dict[str, Any], author: str) -> bool:
        return await peers.proves(self.ctx, document, author)

    # --- a matter from below -------------------------------------------------------

    async def _proposal_from_below(self, federation: LocalActor, create: dict[str, Any],
                                   obj: dict[str, Any]) -> None:
        try:
            doc = objects.read_proposal(obj)
        except Problem as exc:
            log.warning("malformed proposal %s: %s", obj.get("id"), exc.detail)
            return
        origin = id_of(create.get("actor"))
        if doc.author != origin or not await self._proves(create, origin):
            return
        # A refusal is final for the author: made only from fresh copies of the graph.
        plan = await routing.settled(self.ctx, federation, doc.affects,
                                     lambda p: p.route in (Route.local, Route.up))
        if plan.route == Route.local:
            await self._tx(f"remote:{origin}", matters.take, federation,
                           create, doc, origin)
        elif plan.route == Route.up:
            await self._tx(f"remote:{origin}", matters.forward_up, federation,
                           create, plan.next_hop, plan.next_inbox)
        else:
            inbox = await self._inbox_of(origin)
            reason = plan.reason if plan.level is None else \
                f"{plan.reason} (deciding level: {plan.level})"
            await self._tx(f"remote:{origin}", matters.refuse, federation,
                           create, inbox, reason)

    # --- matters and decisions from above ------------------------------------------

    async def _announced(self, federation: str, inner: dict[str, Any],
                         bodies: list[LocalActor]) -> None:
        inner_actor = id_of(inner.get("actor"))
        obj = inner.get("object")
        if not isinstance(obj, dict) or not await self._proves(inner, inner_actor):
            return
        for body in bodies:
            if inner.get("type") == "Create" and obj.get("type") == "Note":
                await self._decision(body, federation, inner, obj, checked=True)
            elif obj.get("type") == objects.PROPOSAL:
                await self._from_federation(body, federation, inner, obj, signer=inner_actor,
                                            checked=True)

    async def _from_federation(self, body: LocalActor, federation: str,
                               activity: dict[str, Any], obj: dict[str, Any], signer: str,
                               checked: bool = False) -> None:
        """`body` is a member of `federation` (the inbox authority checked it)."""
        if not checked and not await self._proves(activity, signer):
            return
        try:
            doc = objects.read_proposal(obj)
        except Problem as exc:
            log.warning("malformed proposal %s: %s", obj.get("id"), exc.detail)
            return
        if activity.get("type") == "Update" and not await self._versioned_by_decider(
                body, id_of(activity.get("actor")), doc):
            return
        await self._tx(f"remote:{federation}", matters.receive_from_federation, body,
                       federation, activity, doc)
        # The decision will be checked against the deciding level of these bodies.
        self._warm(doc.affects)

    async def _versioned_by_decider(self, body: LocalActor, author: str,
                                    doc: objects.ProposalDoc) -> bool:
        """A new version of a matter is made only by the federation that decides it
        (as this node computes the deciding level), of a matter already known here and
        still attributed to the body that raised it."""
        known = await asyncio.to_thread(self._kept, doc.id)
        if known is None or str(known.get("attributedTo")) != doc.author:
            log.warning("version %s of %s: unknown matter, or not its author's", doc.version,
                        doc.id)
            return False
        plan = await routing.settled(self.ctx, body, doc.affects,
                                     lambda p: p.level == author)
        if plan.level != author:
            log.warning("version %s of %s by %s, but %s decides that matter", doc.version,
                        doc.id, author, plan.level)
            return False
        return True

    def _kept(self, uri: str) -> dict[str, Any] | None:
        with Session(self.ctx.engine) as s:
            return matters.kept(s, uri)

    async def _decision(self, body: LocalActor, via: str, activity: dict[str, Any],
                        note: dict[str, Any], checked: bool = False) -> None:
        """`body` is a member of `via` (the inbox authority checked it)."""
        author = id_of(activity.get("actor"))
        if not checked and not await self._proves(activity, author):
            return
        # The decision must come from the level that decides the matter, as this node
        # sees the graph; and its own proof must hold wherever it came from.
        if not await self._proves(note, str(note.get("attributedTo", ""))):
            return
        affects = await asyncio.to_thread(self._affects, str(note.get("matter", "")))
        if affects:
            plan = await routing.settled(self.ctx, body, affects,
                                         lambda p: p.level == note.get("attributedTo"))
            if plan.level != note.get("attributedTo"):
                log.warning("decision %s by %s, but %s decides that matter", note.get("id"),
                            note.get("attributedTo"), plan.level)
                return
        elif not await graph.is_above(self.ctx, str(note.get("attributedTo", "")),
                                      self.ctx.urls.actor(body.handle)):
            # A matter we never saw: no deciding level to check it against, so it is
            # kept (and passed down) only as the word of a federation above us.
            log.warning("decision %s on a matter unknown here, by %s, not a federation "
                        "above %s", note.get("id"), note.get("attributedTo"), body.handle)
            return
        await self._tx(f"remote:{via}", outcomes.receive, body, activity,
                       note, via)

    def _affects(self, matter: str) -> list[str]:
        with Session(self.ctx.engine) as s:
            doc = matters.kept(s, matter)
        if doc is None:
            return []
        try:
            return objects.read_proposal(doc).affects
        except Problem:
            return []

    # --- mandates and votes from member bodies ---------------------------------------

    async def _from_member(self, federation: LocalActor, member: str,
                           activity: dict[str, Any], obj: dict[str, Any]) -> None:
        try:
            if obj.get("attributedTo") != member:
                raise objects.refused("the object is not by the body that sent it",
                                      "foreign-object")
            if not await self._proves(obj, member):
                raise objects.refused("the object's own proof does not verify", "bad-proof")
            if obj.get("type") == objects.MANDATE:
                await self._tx(f"remote:{member}", mandates.receive_mandate,
                               federation, objects.read_mandate(obj), obj)
            else:
                await self._tx(f"remote:{member}", mandates.receive_vote,
                               federation, objects.read_vote(obj), obj)
        except Problem as exc:
            log.info("refused %s from %s: %s", obj.get("id"), member, exc.detail)
            try:
                inbox = await self._inbox_of(member)
            except KeyLookupFailed:
                return
            if inbox:
                await self._tx(f"remote:{member}", mandates.answer_refusal,
                               federation, activity, inbox, exc)

