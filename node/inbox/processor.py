"""Processing stored inbox rows after the 202, with retries.

Rows are claimed with leases, so any number of processes can share the work and
a crash only delays a row until its lease runs out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from node.context import NodeContext
from node.federation import follows
from node.federations import graph, matters, membership
from node.inbox.economic import Economic, is_economic
from node.inbox.federated import Federated, id_of, is_federated
from node.inbox.projectbank import ProjectBank, is_project
from node.models import FederationLink, InboxItem, LocalActor
from node.models.base import utcnow
from node.outbox.backoff import next_attempt
from node.storage.leases import claim

log = logging.getLogger("comuna.inbox")
MAX_ATTEMPTS = 8
# Short, so rows held by a crashed process are picked up again soon.
LEASE_SECONDS = 30.0


class InboxProcessor:
    def __init__(self, ctx: NodeContext, batch: int = 100) -> None:
        self.ctx = ctx
        self.batch = batch
        self.federated = Federated(self)
        self.economic = Economic(self)
        self.projects = ProjectBank(self)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # Cleared before the pass: a row stored during it sets the event again and
            # is picked up at once, not after a poll interval.
            self.ctx.inbox_wakeup.clear()
            try:
                done = await self.run_once()
            except Exception:  # keep serving; the rows stay queued
                log.exception("inbox processing pass failed")
                done = 0
            if done == 0:
                try:
                    await asyncio.wait_for(self.ctx.inbox_wakeup.wait(),
                                           self.ctx.settings.delivery_poll_seconds)
                except TimeoutError:
                    pass

    async def run_once(self) -> int:
        rows = await asyncio.to_thread(claim, self.ctx.engine, InboxItem, self.batch,
                                       LEASE_SECONDS)
        done = [row.id for row in rows if await self._process(row)]
        if done:
            # One statement for the whole batch: most activities need no further work.
            await asyncio.to_thread(self._finish_many, done)
        return len(rows)

    async def _process(self, row: Any) -> bool:
        try:
            activity = json.loads(row.body)
            await self.handle(activity, row.recipient, row.signer)
        except Exception as exc:
            log.warning("inbox item %s failed: %s", row.activity_id, exc)
            await asyncio.to_thread(self._fail, row, f"{type(exc).__name__}: {exc}")
            return False
        return True

    def _finish_many(self, ids: list[int]) -> None:
        with Session(self.ctx.engine) as s:
            s.execute(update(InboxItem).where(col(InboxItem.id).in_(ids)).values(
                state="done", last_error="", lease_owner=None, lease_until=None))
            s.commit()

    def _finish(self, row_id: int, state: str, error: str, **extra: Any) -> None:
        with Session(self.ctx.engine) as s:
            stmt = update(InboxItem).where(col(InboxItem.id) == row_id).values(
                state=state, last_error=error, lease_owner=None, lease_until=None, **extra)
            s.execute(stmt)
            s.commit()

    def _fail(self, row: Any, error: str) -> None:
        attempts = row.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            self._finish(row.id, "failed", error, attempts=attempts)
        else:
            self._finish(row.id, "queued", error, attempts=attempts,
                         next_attempt_at=next_attempt(utcnow(), attempts, None, transient=True))

    async def handle(self, activity: dict[str, Any], recipient: str = "",
                     signer: str = "") -> None:
        kind = activity.get("type")
        actor_uri = id_of(activity.get("actor"))
        if is_economic(activity):
            await self.economic.handle(activity, recipient, signer or actor_uri)
        elif is_project(activity):
            await self.projects.handle(activity, signer or actor_uri)
        elif kind in ("Accept", "Reject") and await self.economic.answer(activity, recipient):
            return
        elif is_federated(activity):
            await self.federated.handle(activity, recipient)
        elif kind == "Follow":
            target = self.local(id_of(activity.get("object")))
            if target is None:
                return
            follower_doc = await self.ctx.directory.actor(actor_uri)
            await asyncio.to_thread(self.tx, follows.accept_follow, self.ctx.urls, target,
                                    activity, follower_doc)
            self.ctx.delivery_wakeup.set()
        elif kind == "Undo":
            obj = activity.get("object")
            if isinstance(obj, dict) and obj.get("type") == "Follow":
                target = self.local(id_of(obj.get("object")))
                if target is not None and id_of(obj.get("actor")) == actor_uri:
                    await asyncio.to_thread(self.tx, follows.undo_follow, target, actor_uri,
                                            id_of(obj))
            elif isinstance(obj, str) and obj:
                # Some servers undo by the Follow's id alone.
                await asyncio.to_thread(self.tx, follows.undo_follow_by_id, actor_uri, obj)
        elif kind == "Join":
            target = self.local(id_of(activity.get("object")))
            if target is None:
                return
            member_doc = await self.ctx.directory.actor(actor_uri)
            await asyncio.to_thread(self.tx, membership.receive_join, self.ctx.urls, target,
                                    activity, member_doc)
            self.ctx.delivery_wakeup.set()
        elif kind == "Update" and isinstance(activity.get("object"), dict) and \
                id_of(activity.get("object")) == actor_uri:
            # An actor changed (keys, memberOf): fetch it again from its origin rather
            # than trusting the copy carried here.
            await self.ctx.directory.actor(actor_uri, refresh=True)
            if await asyncio.to_thread(self._is_our_federation, actor_uri):
                await graph.warm(self.ctx, [actor_uri])
        elif kind == "Leave":
            target = self.local(id_of(activity.get("object")))
            if target is not None:
                await asyncio.to_thread(self.tx, membership.receive_leave, target, actor_uri)
        elif kind in ("Accept", "Reject"):
            obj = activity.get("object")
            if kind == "Reject" and await asyncio.to_thread(
                    self.tx, matters.receive_refusal, actor_uri, id_of(obj),
                    str(activity.get("content") or activity.get("summary") or "")):
                return
            otype = obj.get("type") if isinstance(obj, dict) else None
            if otype in (None, "Join"):
                done = await asyncio.to_thread(self.tx, membership.receive_answer, actor_uri,
                                               id_of(obj), kind == "Accept", self.ctx.urls)
                if done:
                    self.ctx.delivery_wakeup.set()
                    if kind == "Accept":
                        await graph.warm(self.ctx, [actor_uri])
                if done or otype == "Join":
                    return
            follow_id = id_of(obj)
            ours = self.local(id_of(obj.get("actor"))) if isinstance(obj, dict) else None
            if ours is None:
                ours = self._local_from_follow_id(follow_id)
            if ours is not None:
                await asyncio.to_thread(self.tx, follows.answer_to_our_follow, ours, follow_id,
                                        actor_uri, kind == "Accept")
        # Every other type is kept as stored; later layers (governance, economy) read it.

    def _is_our_federation(self, uri: str) -> bool:
        with Session(self.ctx.engine) as s:
            return s.exec(select(FederationLink.id).where(
                FederationLink.remote_uri == uri, FederationLink.direction == "member_of",
                FederationLink.state == "accepted")).first() is not None

    def local(self, uri: str) -> LocalActor | None:
        handle = self.ctx.urls.handle_of_actor(uri)
        return self.ctx.actors.get(handle) if handle else None

    def _local_from_follow_id(self, follow_id: str) -> LocalActor | None:
        if not follow_id.startswith(self.ctx.urls.base):
            return None
        return self.ctx.primary

    def tx(self, func: Any, *args: Any) -> Any:
        with Session(self.ctx.engine) as s:
            # ctx.actors is a per-process cache; services get the body as stored now
            # (its statute may have changed since the cache was filled).
            fresh = [s.get(LocalActor, a.id) if isinstance(a, LocalActor) else a for a in args]
            result = func(s, *fresh)
            s.commit()
            return result
