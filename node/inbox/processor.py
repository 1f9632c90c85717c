"""Processing stored inbox rows after the 202, with retries.

Rows are claimed with leases, so any number of processes can share the work and
a crash only delays a row until its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import bindparam, func, update
from sqlmodel import Session, col, select

from node.activitypub.directory import KeyLookupFailed, KeyUnavailable
from node.context import NodeContext
from node.errors import Problem
from node.federations import graph, matters, membership
from node.governance import follows
from node.inbox import authority, peers, refusals
from node.inbox.authority import Verdict
from node.inbox.copies import DUPLICATE, Handled, handled_before
from node.inbox.deps import HandlerDeps
from node.inbox.economic import Economic
from node.inbox.kinds import Kind, classify
from node.inbox.matters import Federated
from node.inbox.ownership import id_of
from node.inbox.projectbank import ProjectBank
from node.inbox.triage import settled_on_arrival
from node.inbox.warmups import WarmUps
from node.models import FederationLink, InboxItem, LocalActor
from node.models.base import aware, utcnow
from node.outbox.backoff import next_attempt
from node.storage.db import write_alone
from node.storage.leases import claim, free_dead_at_start, next_due
from node.waiting import first_of, until_next

log = logging.getLogger("comuna.inbox")
_P = ParamSpec("_P")
_R = TypeVar("_R")
Handler = Callable[[dict[str, Any], list[LocalActor], str], Awaitable[None]] | None
# A row that fails (a key server not answering, a bug of ours) is tried at about 2 s,
# then 20 s doubling: quick enough that a peer's second blip costs seconds, not the
# delivery schedule's minute, and ten attempts still span about 90 minutes.
MAX_ATTEMPTS = 10
BACKOFF_BASE = 10.0
# Short, so rows held by a crashed process are picked up again soon.
LEASE_SECONDS = 30.0
# During a burst, a pass that found a part of a batch waits this long (from its start)
# before the next claim. A lone activity after a quiet moment is taken at once.
GATHER_SECONDS = 0.1
# During a flood (full batches while more keep coming), processing waits until the
# oldest waiting row is this old. Drained at ~10,000 rows/s, the backlog this leaves
# at a flood's end is gone in well under a second per second of deferral.
DEFER_SECONDS = 3.0
# What processing reads of a claimed row (the rest, three datetimes among them, cost
# more to load than the row's JSON to parse).
CLAIMED = (InboxItem.id, InboxItem.activity_id, InboxItem.body, InboxItem.recipient,
           InboxItem.signer, InboxItem.attempts)


# Built once: every batch processed ends with it (issue 11).
_DONE = update(InboxItem).where(col(InboxItem.id).in_(bindparam("ids", expanding=True))).values(
    state="done", last_error="", lease_owner=None, lease_until=None)


class InboxProcessor:
    def __init__(self, ctx: NodeContext, batch: int = 100,
                 gather_seconds: float = GATHER_SECONDS,
                 defer_seconds: float = DEFER_SECONDS) -> None:
        self.ctx = ctx
        self.batch = batch
        self.gather_seconds = gather_seconds
        self.defer_seconds = defer_seconds
        # Built once: the handlers get the context and the transaction runner, not
        # this processor (its queue and refusals are none of their business).
        self.warmups = WarmUps(ctx)
        self.deps = HandlerDeps.of(ctx, self.warmups.ask)
        self._tx = self.deps.tx
        self.federated = Federated(self.deps)
        self.economic = Economic(self.deps)
        self.projects = ProjectBank(self.deps)
        fed, eco, bank = self.federated.handle, self.economic.handle, self.projects.handle
        self.handlers: dict[Kind, Handler] = {
            Kind.follow: self._follow, Kind.undo: self._undo,
            Kind.follow_answer: self._follow_answer, Kind.join_request: self._join,
            Kind.join_answer: self._join_answer, Kind.leave: self._leave,
            Kind.actor_update: self._actor_update, Kind.answer: self._answer,
            Kind.actor_delete: self._actor_delete,
            Kind.matter_up: fed, Kind.matter_down: fed, Kind.matter_version: fed,
            Kind.decision: fed, Kind.decision_down: fed, Kind.mandate: fed,
            Kind.mandated_vote: fed, Kind.delete: fed, Kind.amendment: fed,
            Kind.vote_opened: fed,
            Kind.intent: eco, Kind.exchange_offer: eco, Kind.agreement: eco,
            Kind.delivery: eco, Kind.commitment_cancel: eco, Kind.plan: eco,
            Kind.project_record: bank, Kind.project_down: bank,
            # Kept as stored: later layers (or nobody) read it.
            Kind.other: None,
        }

    async def run(self, stop: asyncio.Event) -> None:
        warming = asyncio.create_task(self.warmups.run(stop))
        try:
            await self._run(stop)
        finally:
            warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warming

    async def _run(self, stop: asyncio.Event) -> None:
        await asyncio.to_thread(free_dead_at_start, self.ctx.engine, InboxItem, "inbox rows")
        loop = asyncio.get_running_loop()
        # Two full batches in a row while activities keep arriving: a flood, not a
        # burst. (One full batch would do for a single sender at a few dozen a second
        # after one burst of a hundred: each deferral leaves a full batch behind it,
        # and every activity of everyone would wait the deferral for as long as it
        # kept sending.)
        flood = False
        full = 0
        while not stop.is_set():
            if flood and self.defer_seconds > 0 and \
                    await asyncio.to_thread(self._head_is_fresh):
                full = 0
                # The web side keeps the loop and the write lock while the oldest waiting
                # row is younger than `defer_seconds`; then the backlog goes at the rate
                # it comes in, and all of it when the flood ends, so it never holds more
                # than about `defer_seconds` of arrivals (drained in a fraction of that).
                flood = await self._pause(stop, loop.time() + self.gather_seconds)
                continue
            # Cleared before the pass: a row stored during it sets the event again and
            # is picked up at once, not after a poll interval.
            self.ctx.inbox_wakeup.clear()
            started = loop.time()
            try:
                done = await self.run_once()
            except Exception:  # keep serving; the rows stay queued
                log.exception("inbox processing pass failed")
                done = 0
            if done >= self.batch:
                full += 1
                flood = full >= 2 and self.ctx.inbox_wakeup.is_set()
                continue  # a backlog: the next batch at once
            flood, full = False, 0
            if done:
                # Rows are arriving while we work (a burst): let the next ones gather
                # instead of waking at every group commit. One claim and one commit
                # then serve a whole batch, and the web side, which shares this loop
                # and the database's write lock, keeps most of both.
                await self._pause(stop, started + self.gather_seconds)
                continue
            await first_of(self.ctx.inbox_wakeup, stop, timeout=await self._idle_wait())

    async def _idle_wait(self) -> float:
        """Until the next row is due (a retry), unless an arrival wakes us first."""
        return await until_next(lambda _now: next_due(self.ctx.engine, InboxItem),
                                self.ctx.settings.delivery_poll_seconds,
                                self.ctx.idle_poll())

    async def _pause(self, stop: asyncio.Event, until: float) -> bool:
        """Wait until `until` (or the stop); whether activities arrived meanwhile."""
        self.ctx.inbox_wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), until - asyncio.get_running_loop().time())
        return self.ctx.inbox_wakeup.is_set()

    def _head_is_fresh(self) -> bool:
        with Session(self.ctx.engine) as s:
            head = s.exec(select(func.min(InboxItem.next_attempt_at))
                          .where(InboxItem.state == "queued")).one()
        return head is not None and \
            utcnow() - aware(head) < timedelta(seconds=self.defer_seconds)

    def _claim(self) -> tuple[list[Any], Handled]:
        rows = claim(self.ctx.engine, InboxItem, self.batch, LEASE_SECONDS, None, CLAIMED)
        return rows, handled_before(self.ctx.engine, rows)

    async def run_once(self) -> int:
        rows, handled = await asyncio.to_thread(self._claim)
        started = asyncio.get_running_loop().time()
        done: list[int] = []
        try:
            for i, row in enumerate(rows):
                if asyncio.get_running_loop().time() - started > LEASE_SECONDS / 2:
                    # Half the lease is spent (slow handlers, a busy machine): the rest
                    # goes back now, before another process may claim rows this one is
                    # still working through, and the rows done are marked below.
                    await asyncio.to_thread(self._release, [r.id for r in rows[i:]])
                    break
                if handled.covers(row.activity_id, row.recipient):
                    await asyncio.to_thread(self._finish, row.id, "done", DUPLICATE)
                    continue
                # Each row's work commits on its own (`tx`); a row that fails is put
                # back with backoff and the rest of the batch goes on.
                try:
                    if await self._process(row):
                        done.append(row.id)
                        handled.add(row.activity_id, row.recipient)
                except Exception:
                    # Not even its failure could be recorded: its lease runs out and
                    # it is tried again then.
                    log.exception("inbox item %s: recording its failure failed",
                                  row.activity_id)
        finally:
            # Also when a later row raised or the pass was cancelled: rows already
            # processed must not run again when their lease runs out.
            if done:
                # One statement for the whole batch: most activities need no further work.
                await asyncio.to_thread(self._finish_many, done)
        return len(rows)

    async def _process(self, row: Any) -> bool:
        try:
            activity = json.loads(row.body)
            verdict = await self.handle(activity, row.recipient, row.signer)
        # The boundary of one inbox row: whatever its handling raised, the row is put
        # back with backoff and the rest of the batch goes on. A refusal (Problem) is
        # logged without a traceback: it is the sender's doing, not ours.
        except Exception as exc:
            log.warning("inbox item %s failed: %s", row.activity_id, exc,
                        exc_info=None if isinstance(exc, Problem) else exc)
            await asyncio.to_thread(self._fail, row, f"{type(exc).__name__}: {exc}")
            return False
        if not verdict.allowed:
            log.info("refused %s (%s) from %s: %s", row.activity_id, verdict.kind,
                     row.signer, verdict.reason)
            await asyncio.to_thread(self._finish, row.id, "refused",
                                    f"{verdict.code}: {verdict.reason}")
            return False
        return True

    def _release(self, ids: list[int]) -> None:
        """Give claimed rows back untouched: claimable again at once, attempts unchanged."""
        with self.ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") \
                as conn:
            write_alone(conn, update(InboxItem).where(col(InboxItem.id).in_(ids)).values(
                lease_owner=None, lease_until=None))

    def _finish_many(self, ids: list[int]) -> None:
        # One statement on its own: the write lock is not held while this thread waits
        # for the GIL between statements (the web side's commits wait for that lock).
        with self.ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") \
                as conn:
            write_alone(conn, _DONE, {"ids": ids})

    def _finish(self, row_id: int, state: str, error: str, **extra: Any) -> None:
        with Session(self.ctx.engine) as s:
            stmt = update(InboxItem).where(col(InboxItem.id) == row_id).values(
                state=state, last_error=error, lease_owner=None, lease_until=None, **extra)
            s.execute(stmt)
            s.commit()

    def _fail(self, row: Any, error: str) -> None:
        attempts = row.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            # Parked: the row keeps its error and count for a facilitator to read.
            log.error("inbox item %s failed %d times, given up: %s", row.activity_id,
                      attempts, error)
            self._finish(row.id, "failed", error, attempts=attempts)
        else:
            self._finish(row.id, "queued", error, attempts=attempts,
                         next_attempt_at=next_attempt(utcnow(), attempts, None,
                                                      base_seconds=BACKOFF_BASE,
                                                      transient=True))

    async def sender_of(self, activity: dict[str, Any], signer: str) -> str:
        """The actor whose key signed the request (the last hop), as the key's owner."""
        if not signer:
            return id_of(activity.get("actor"))
        key = await self.ctx.directory.key_for(signer)
        return key.owner

    async def handle(self, activity: dict[str, Any], recipient: str = "",
                     signer: str = "") -> Verdict:
        """Decide who may send this (`authority`), then act on it; a refusal changes
        nothing here and is answered to the sender with a `Reject` and its code."""
        try:
            sender = await self.sender_of(activity, signer)
        except KeyUnavailable:
            raise  # the signer's host may come back: the row is retried
        except KeyLookupFailed as exc:
            # The key is gone for good (404/410): nobody we can check it against.
            return Verdict(classify(activity), [], "unknown-signer", str(exc))
        kind = classify(activity)
        # Rows the endpoint stored as handled never come here; these are ones it could
        # not settle then (a body it did not hold yet) or that an older version stored.
        if settled_on_arrival(self.ctx, kind, activity, recipient, sender):
            return Verdict(kind)
        verdict = await authority.decide(self.ctx, activity, recipient, sender)
        if not verdict.allowed:
            if verdict.answer:
                await self.refuse(activity, sender, verdict)
            return verdict
        handler = self.handlers.get(verdict.kind)
        if handler is not None:
            await handler(activity, verdict.bodies, sender)
        return verdict

    async def refuse(self, activity: dict[str, Any], sender: str, verdict: Verdict) -> None:
        try:
            inbox = await peers.inbox_of(self.ctx, sender)
        except KeyLookupFailed:
            return
        if inbox and verdict.addressed is not None:
            await self._tx(None, refusals.answer, verdict.addressed, activity, inbox,
                           verdict.code, verdict.reason)

    # --- handlers, one per kind (who may send each was decided before) ---------------

    async def _follow(self, activity: dict[str, Any], bodies: list[LocalActor],
                      sender: str) -> None:
        target = self._named(bodies, id_of(activity.get("object")))
        if target is None:
            return
        follower_doc = await self.ctx.directory.actor(sender)
        await self._tx(f"remote:{sender}", follows.accept_follow, target, activity, follower_doc)

    async def _undo(self, activity: dict[str, Any], bodies: list[LocalActor],
                    sender: str) -> None:
        obj = activity.get("object")
        if isinstance(obj, dict) and obj.get("type") == "Follow":
            target = self._named(bodies, id_of(obj.get("object")))
            if target is not None:
                await self._tx(f"remote:{sender}", follows.undo_follow, target, sender,
                               id_of(obj))
        elif isinstance(obj, str) and obj:
            # Some servers undo by the Follow's id alone.
            await self._tx(f"remote:{sender}", follows.undo_follow_by_id, sender, obj)

    async def _actor_delete(self, activity: dict[str, Any], bodies: list[LocalActor],
                            sender: str) -> None:
        # Signed by the account itself (the sender is the actor, checked before): a
        # deleted account is no follower of any body here, whichever inbox it chose.
        # Most such Deletes are for accounts that never followed anything here.
        if await asyncio.to_thread(follows.knows_account, self.ctx.engine, sender):
            await self._tx(f"remote:{sender}", follows.forget_account, sender)

    async def _join(self, activity: dict[str, Any], bodies: list[LocalActor],
                    sender: str) -> None:
        target = self._named(bodies, id_of(activity.get("object")))
        if target is None:
            return
        member_doc = await self.ctx.directory.actor(sender)
        await self._tx(f"remote:{sender}", membership.receive_join, target,
                       activity, member_doc)

    async def _leave(self, activity: dict[str, Any], bodies: list[LocalActor],
                     sender: str) -> None:
        target = self._named(bodies, id_of(activity.get("object")))
        if target is not None:
            await self._tx(f"remote:{sender}", membership.receive_leave,
                           target, sender)

    async def _actor_update(self, activity: dict[str, Any], bodies: list[LocalActor],
                            sender: str) -> None:
        # An actor changed (keys, memberOf): fetch it again from its origin rather
        # than trusting the copy carried here.
        actor_uri = id_of(activity.get("actor"))
        await self.ctx.directory.actor(actor_uri, refresh=True)
        if await asyncio.to_thread(self._is_our_federation, actor_uri):
            await graph.warm(self.ctx, [actor_uri])

    async def _join_answer(self, activity: dict[str, Any], bodies: list[LocalActor],
                           sender: str) -> None:
        await self._our_join_answered(sender, id_of(activity.get("object")),
                                      activity.get("type") == "Accept")

    async def _our_join_answered(self, federation: str, join_id: str, accept: bool) -> bool:
        done = await self._tx(f"remote:{federation}", membership.receive_answer, federation,
                              join_id, accept)
        if done and accept:
            await graph.warm(self.ctx, [federation])
        return bool(done)

    async def _follow_answer(self, activity: dict[str, Any], bodies: list[LocalActor],
                             sender: str) -> None:
        obj = activity.get("object")
        follow_id = id_of(obj)
        for body in bodies:
            await self._tx(f"remote:{sender}", follows.answer_to_our_follow, body, follow_id,
                           sender, activity.get("type") == "Accept")

    async def _answer(self, activity: dict[str, Any], bodies: list[LocalActor],
                      sender: str) -> None:
        """An Accept or Reject named by id: of an exchange, a plan or a delivery; of a
        matter we sent up; of our Join; of our Follow."""
        if await self.economic.answer(activity, bodies, sender):
            return
        named, accept = id_of(activity.get("object")), activity.get("type") == "Accept"
        if not accept and await self._tx(f"remote:{sender}", matters.receive_refusal, sender, named,
                str(activity.get("content") or activity.get("summary") or "")):
            return
        if await self._our_join_answered(sender, named, accept):
            return
        await self._follow_answer(activity, bodies, sender)

    def _named(self, bodies: list[LocalActor], uri: str) -> LocalActor | None:
        for body in bodies:
            if self.ctx.urls.actor(body.handle) == uri:
                return body
        return None

    def _is_our_federation(self, uri: str) -> bool:
        with Session(self.ctx.engine) as s:
            return s.exec(select(FederationLink.id).where(
                FederationLink.remote_uri == uri, FederationLink.direction == "member_of",
                FederationLink.state == "accepted")).first() is not None
