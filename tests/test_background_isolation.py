"""One object, one transaction: in the vote clock, the economy pass and the inbox
processor a unit that fails is recorded and retried with backoff while the others go
on; and web logins hash passwords off the event loop. Clocks are injected (`now`,
a patched `utcnow`), nothing sleeps for real."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Coroutine
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from node.app import create_app
from node.config import Settings
from node.context import NodeContext
from node.economy import clock as economy_clock
from node.economy import enterprises, intents, local, plans, rising
from node.economy.catalogue import shared
from node.governance import clock as vote_clock
from node.governance import decisions, members, passwords, proposals
from node.inbox.authority import Verdict
from node.inbox.kinds import Kind
from node.inbox.processor import LEASE_SECONDS, MAX_ATTEMPTS, InboxProcessor
from node.models import (
    AuditEntry,
    Decision,
    Exchange,
    InboxItem,
    Intent,
    JointPlan,
    LocalActor,
    Proposal,
)
from node.models.base import aware, utcnow
from node.storage import audit
from node.tx import Tx
from tests.conftest import NODE_URL
from tests.govfixtures import Commune, build_commune
from tests.helpers import id_of, stored

NS = shared().namespace


@pytest.fixture
def commune(node: Settings) -> Commune:
    return build_commune(node)


def _due_votes(c: Commune, n: int) -> list[int]:
    """`n` proposals of the assembly in their vote, past the deadline."""
    ids = []
    with c.session() as s:
        for i in range(n):
            p = proposals.create(c.ctx.tx(s, c.people["m0"]), c.assembly, f"Asunto {i}", "Texto.",
                                 own_uri=c.ctx.urls.actor("maizal"))
            proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
            proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p)
            for who in ("m0", "m1", "m2"):
                proposals.cast(c.ctx.tx(s, c.people[who]), p, 1, "for")
            p.closes_at = utcnow() - timedelta(seconds=1)
            s.add(p)
            ids.append(id_of(p))
        s.commit()
    return ids


def _states(c: Commune, ids: list[int]) -> list[str]:
    with c.session() as s:
        return [stored(s, Proposal, pid).state for pid in ids]


def test_a_vote_that_cannot_be_closed_does_not_hold_back_the_others(
        commune: Commune, monkeypatch: pytest.MonkeyPatch) -> None:
    c = commune
    first, bad, last = _due_votes(c, 3)
    real = decisions.close_vote
    tried: list[int] = []

    def close_vote(tx: Tx, proposal: Proposal) -> Decision:
        tried.append(id_of(proposal))
        decision = real(tx, proposal)  # its writes must be rolled back
        if proposal.id == bad and broken:
            raise RuntimeError("a row the tally chokes on")
        return decision

    broken = True
    monkeypatch.setattr(decisions, "close_vote", close_vote)
    retries = vote_clock.new_retries(c.ctx)
    t0 = utcnow()
    closed = vote_clock.close_due_now(c.ctx, t0, retries)
    assert _states(c, [first, bad, last]) == ["decided", "vote", "decided"]
    assert len(closed) == 2
    with c.session() as s:
        assert s.exec(select(Decision).where(Decision.proposal_id == bad)).first() is None
    failure = retries.failures[("vote", bad)]
    assert failure.attempts == 1 and "chokes" in failure.last_error
    assert failure.next_try > t0 and not failure.parked

    # Before its backoff runs out it is not tried again; after, it is, and closes.
    tried.clear()
    vote_clock.close_due_now(c.ctx, t0 + timedelta(seconds=1), retries)
    assert tried == [] and _states(c, [bad]) == ["vote"]
    broken = False
    assert vote_clock.close_due_now(c.ctx, failure.next_try, retries) != []
    assert tried == [bad] and _states(c, [bad]) == ["decided"]
    assert retries.failures == {}


def test_a_vote_failing_every_time_is_parked_and_left_in_the_audit_log(
        commune: Commune, monkeypatch: pytest.MonkeyPatch) -> None:
    c = commune
    (bad,) = _due_votes(c, 1)

    def close_vote(tx: Tx, proposal: Proposal) -> None:
        raise RuntimeError("always")

    monkeypatch.setattr(decisions, "close_vote", close_vote)
    retries = vote_clock.new_retries(c.ctx)
    now = utcnow()
    for _ in range(retries.max_attempts):
        vote_clock.close_due_now(c.ctx, now, retries)
        now = retries.failures[("vote", bad)].next_try
    assert retries.parked()[("vote", bad)].attempts == retries.max_attempts
    # Parked: not tried again in this process, however late it gets.
    monkeypatch.setattr(decisions, "close_vote", lambda *a: pytest.fail("tried again"))
    vote_clock.close_due_now(c.ctx, now + timedelta(days=30), retries)
    with c.session() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "background.parked")
                       ).one()
        assert entry.subject == f"vote:{bad}" and "always" in json.loads(entry.data)["error"]
        assert audit.verify_chain(s) == (True, None)


def test_a_vote_closed_meanwhile_by_someone_else_is_not_a_failure(
        commune: Commune, monkeypatch: pytest.MonkeyPatch) -> None:
    c = commune
    (pid,) = _due_votes(c, 1)
    real = decisions.close_vote

    def close_vote(tx: Tx, proposal: Proposal) -> Decision:
        # A facilitator closes it in another transaction just before the clock does.
        with c.session() as other:
            real(c.ctx.tx(other), stored(other, Proposal, proposal.id))
            other.commit()
        return real(tx, proposal)

    monkeypatch.setattr(decisions, "close_vote", close_vote)
    retries = vote_clock.new_retries(c.ctx)
    assert vote_clock.close_due_now(c.ctx, utcnow(), retries) == []
    assert retries.failures == {} and _states(c, [pid]) == ["decided"]


# --- the economy pass ---------------------------------------------------------------


def _offer_and_need(c: Commune, body: LocalActor) -> None:
    """An enterprise of the body offers what the body needs: a match inside it."""
    with c.session() as s:
        tx = c.ctx.tx(s, c.people["facil"])
        enterprises.create(tx, body, "finca", "Finca", "agricultura")
        for side, qty, ent in (("offer", "10", "finca"), ("need", "4", None)):
            intents.publish(tx, body, side, NS + "papaya",
                            Decimal(qty), "kilogram", ent, rise_after=3600)
        s.commit()


def _exchanges(c: Commune, body: LocalActor) -> int:
    with c.session() as s:
        return len(s.exec(select(Exchange).where(Exchange.proposer_id == body.id)).all())


def test_a_body_whose_matching_fails_does_not_hold_back_the_others(
        commune: Commune, monkeypatch: pytest.MonkeyPatch) -> None:
    c = commune
    with c.session() as s:
        members.grant(c.ctx.tx(s), c.people["facil"], c.council, "facilitator")
        s.commit()
    _offer_and_need(c, c.assembly)
    _offer_and_need(c, c.council)
    real = local.match
    tried: list[int] = []

    def match(tx: Tx, body: LocalActor) -> list[Exchange]:
        tried.append(id_of(body))
        found = real(tx, body)  # its exchange must be rolled back
        if body.id == c.assembly.id and broken:
            raise RuntimeError("a bad row in this body")
        return found

    broken = True
    monkeypatch.setattr(local, "match", match)
    retries = economy_clock.new_retries(c.ctx)
    t0 = utcnow()
    since = t0 - timedelta(minutes=1)
    inside, _, _ = economy_clock.one_pass(c.ctx, since, retries, t0)
    assert inside == 1 and _exchanges(c, c.council) == 1 and _exchanges(c, c.assembly) == 0
    failure = retries.failures[("match", c.assembly.id)]
    assert failure.attempts == 1 and "bad row" in failure.last_error

    # Nothing changed since, yet the failed body is tried again once its backoff is over.
    tried.clear()
    later = utcnow()
    economy_clock.one_pass(c.ctx, later, retries, t0 + timedelta(seconds=1))
    assert c.assembly.id not in tried
    broken = False
    inside, _, _ = economy_clock.one_pass(c.ctx, later, retries, failure.next_try)
    assert tried == [c.assembly.id] and inside == 1 and _exchanges(c, c.assembly) == 1
    assert retries.failures == {}


def test_an_intent_that_cannot_rise_does_not_hold_back_the_others(
        commune: Commune, monkeypatch: pytest.MonkeyPatch) -> None:
    c = commune
    with c.session() as s:
        rows = [intents.publish(c.ctx.tx(s, c.people["facil"]), c.assembly, "offer",
                                NS + "papaya", Decimal(n), "kilogram", rise_after=0)
                for n in (1, 2, 3)]
        s.commit()
        first, bad, last = (id_of(r) for r in rows)
    real = rising.rise

    def rise(tx: Tx, row: Intent) -> list[str]:
        out = real(tx, row)
        if row.id == bad:
            raise RuntimeError("cannot sign it")
        return out

    monkeypatch.setattr(rising, "rise", rise)
    retries = economy_clock.new_retries(c.ctx)
    now = utcnow()
    economy_clock.one_pass(c.ctx, now, retries, now)

    def rise_at() -> list[bool]:
        with c.session() as s:
            return [stored(s, Intent, i).rise_at is None for i in (first, bad, last)]

    assert rise_at() == [True, False, True]
    assert retries.failures[("rise", bad)].attempts == 1
    # The loop's wake-up leaves out what waits for its retry (else it would spin).
    assert economy_clock.next_rise(c.ctx, {bad}) is None
    next_at = economy_clock.next_rise(c.ctx)
    assert next_at is not None and aware(next_at) <= now


def _decided_plans(c: Commune, n: int) -> list[int]:
    """`n` joint plans of the assembly with itself, each decided in one meeting."""
    process = {"name": "Sembrar",
               "inputs": [{"action": "work", "kind": NS + "tractor-work", "quantity": "6",
                           "unit": "hour"}],
               "outputs": [{"action": "produce", "kind": NS + "seeds", "quantity": "2",
                            "unit": "kilogram"}]}
    with c.session() as s:
        tx = c.ctx.tx(s, c.people["facil"])
        rows = [plans.draft(tx, c.assembly,
                            plans.build(tx, c.assembly, f"Plan {i}", "", [process]),
                            {}) for i in range(n)]
        decisions.record_meeting(c.ctx.tx(s, c.people["facil"]), c.assembly, utcnow(),
                                 "Casa", 5, 3, "", "",
                                 [{"proposal_id": r.proposal_id, "for": 5} for r in rows])
        s.commit()
        return [id_of(r) for r in rows]


def _plan_states(c: Commune, ids: list[int]) -> list[tuple[str, str]]:
    with c.session() as s:
        return [(stored(s, JointPlan, i).answered, stored(s, JointPlan, i).state) for i in ids]


def test_a_plan_whose_answer_fails_does_not_hold_back_the_others(
        commune: Commune, monkeypatch: pytest.MonkeyPatch) -> None:
    c = commune
    first, bad, last = _decided_plans(c, 3)
    real = plans.receive_answer
    tried: list[int] = []

    def receive_answer(tx: Tx, body: LocalActor, party: str,
                       commitment_id: str, accept: bool) -> JointPlan:
        row = real(tx, body, party, commitment_id, accept)  # rolled back
        tried.append(id_of(row))
        if row.id == bad and broken:
            raise RuntimeError("a commitment that will not record")
        return row

    broken = True
    monkeypatch.setattr(plans, "receive_answer", receive_answer)
    retries = economy_clock.new_retries(c.ctx)
    t0 = utcnow()
    _, _, answered = economy_clock.one_pass(c.ctx, t0, retries, t0)
    assert answered == 2
    assert _plan_states(c, [first, bad, last]) == [
        ("accept", "approved"), ("", "proposed"), ("accept", "approved")]
    failure = retries.failures[("plan", bad)]
    assert failure.attempts == 1 and "will not record" in failure.last_error
    with c.session() as s:
        assert plans.decided_unanswered(s) == [bad]

    # Still unanswered, it is listed each pass, but only tried once its backoff is over.
    tried.clear()
    economy_clock.one_pass(c.ctx, t0, retries, t0 + timedelta(seconds=1))
    assert tried == [] and retries.failures[("plan", bad)].attempts == 1
    broken = False
    _, _, answered = economy_clock.one_pass(c.ctx, t0, retries, failure.next_try)
    assert answered == 1 and set(tried) == {bad}
    assert _plan_states(c, [bad]) == [("accept", "approved")]
    assert retries.failures == {}
    with c.session() as s:
        assert plans.decided_unanswered(s) == []


# --- the inbox processor --------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> Any:
        return self.now


def _stored(ctx: NodeContext, n: int) -> list[str]:
    ids = [f"https://far.example/activities/{i}" for i in range(n)]
    with Session(ctx.engine) as s:
        for aid in ids:
            s.add(InboxItem(activity_id=aid, activity_type="Create",
                            actor="https://far.example/u/a", recipient="maizal",
                            body=json.dumps({"id": aid, "type": "Create"}),
                            next_attempt_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    return ids


# The inbox fixture: the node's context, a processor, and the clock both read.
Inbox = tuple[NodeContext, InboxProcessor, Clock]
# One login from its own client; the test checks the answers' status codes.
Login = Callable[[httpx.AsyncClient, str], Coroutine[Any, Any, httpx.Response]]


def _rows(ctx: NodeContext) -> dict[str, InboxItem]:
    with Session(ctx.engine) as s:
        return {r.activity_id: r for r in s.exec(select(InboxItem)
                                                  .order_by(col(InboxItem.id))).all()}


@pytest.fixture
def inbox(commune: Commune, monkeypatch: pytest.MonkeyPatch) -> Inbox:
    clock = Clock()
    monkeypatch.setattr("node.storage.leases.utcnow", clock)
    monkeypatch.setattr("node.inbox.processor.utcnow", clock)
    proc = InboxProcessor(commune.ctx, batch=10)
    return commune.ctx, proc, clock


def test_an_inbox_row_that_fails_does_not_hold_back_its_batch(
        inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, proc, clock = inbox
    first, bad, last = _stored(ctx, 3)
    handled: list[str] = []

    async def handle(activity: dict[str, Any], recipient: str = "", signer: str = ""
                     ) -> Verdict:
        handled.append(activity["id"])
        if activity["id"] == bad and broken:
            raise RuntimeError("handler broke")
        return Verdict(Kind.other)

    broken = True
    monkeypatch.setattr(proc, "handle", handle)
    assert asyncio.run(proc.run_once()) == 3
    rows = _rows(ctx)
    assert [rows[a].state for a in (first, bad, last)] == ["done", "queued", "done"]
    assert rows[bad].attempts == 1 and "handler broke" in rows[bad].last_error
    assert aware(rows[bad].next_attempt_at) > clock.now

    handled.clear()
    assert asyncio.run(proc.run_once()) == 0  # backing off
    broken = False
    clock.now = aware(rows[bad].next_attempt_at)
    assert asyncio.run(proc.run_once()) == 1
    assert handled == [bad] and _rows(ctx)[bad].state == "done"


def test_rows_done_before_a_failure_that_cannot_be_recorded_are_not_done_twice(
        inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, proc, clock = inbox
    first, bad, last = _stored(ctx, 3)
    handled: list[str] = []

    async def handle(activity: dict[str, Any], recipient: str = "", signer: str = ""
                     ) -> Verdict:
        handled.append(activity["id"])
        if activity["id"] == bad and broken:
            raise RuntimeError("handler broke")
        return Verdict(Kind.other)

    def fail(row: Any, error: str) -> None:
        raise RuntimeError("the database went away")

    broken = True
    monkeypatch.setattr(proc, "handle", handle)
    recorded = proc._fail
    monkeypatch.setattr(proc, "_fail", fail)
    asyncio.run(proc.run_once())
    rows = _rows(ctx)
    assert rows[first].state == rows[last].state == "done"
    # Unrecorded: it stays leased and comes back (alone) when the lease runs out.
    assert rows[bad].state == "queued" and rows[bad].lease_owner is not None
    assert asyncio.run(proc.run_once()) == 0
    monkeypatch.setattr(proc, "_fail", recorded)
    broken = False
    handled.clear()
    clock.now += timedelta(seconds=LEASE_SECONDS + 1)
    assert asyncio.run(proc.run_once()) == 1
    assert handled == [bad] and _rows(ctx)[bad].state == "done"


def test_a_row_failing_every_time_is_parked_with_its_error(inbox: Inbox,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, proc, clock = inbox
    (bad,) = _stored(ctx, 1)

    async def handle(activity: dict[str, Any], recipient: str = "", signer: str = ""
                     ) -> None:
        raise RuntimeError("never works")

    monkeypatch.setattr(proc, "handle", handle)
    for _ in range(MAX_ATTEMPTS):
        assert asyncio.run(proc.run_once()) == 1
        clock.now = aware(_rows(ctx)[bad].next_attempt_at)
    row = _rows(ctx)[bad]
    assert row.state == "failed" and row.attempts == MAX_ATTEMPTS
    assert "never works" in row.last_error
    assert asyncio.run(proc.run_once()) == 0


# --- logins off the event loop -----------------------------------------------------------


class HeldHasher:
    """The real argon2 verify, held at its start until released: while five logins
    are inside it, the node must still answer other requests."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.entered = self.returned = 0

    def verify(self, hashed: str, password: str) -> bool:
        with self.lock:
            self.entered += 1
        self.release.wait(10)
        try:
            return bool(self.real.verify(hashed, password))
        finally:
            with self.lock:
                self.returned += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def _while_held(app: Any, held: HeldHasher, login: Login) -> list[int]:
    """Five logins enter the password check; /healthz must answer before any leaves."""
    inner = app
    while not hasattr(inner, "router"):
        inner = inner.app  # under the proxy-headers middleware
    async with inner.router.lifespan_context(inner):
        transport = httpx.ASGITransport(app=app)
        users = ["facil", "m0", "m1", "m2", "m3"]
        # A client each: every browser has its own cookies.
        clients = [httpx.AsyncClient(transport=transport, base_url=NODE_URL) for _ in users]
        other = httpx.AsyncClient(transport=transport, base_url=NODE_URL)
        async with other, contextlib.AsyncExitStack() as stack:
            for client in clients:
                await stack.enter_async_context(client)
            tasks = [asyncio.create_task(login(client, u))
                     for client, u in zip(clients, users, strict=True)]
            try:
                for _ in range(1000):
                    if held.entered == len(users):
                        break
                    await asyncio.sleep(0.01)
                assert held.entered == len(users), "the logins never reached the hash"
                r = await asyncio.wait_for(other.get("/healthz"), 5)
                assert r.status_code == 200
                # Had a hash run on the loop, /healthz would only have answered after it.
                assert held.returned == 0
            finally:
                held.release.set()
            return [r.status_code for r in await asyncio.gather(*tasks)]


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldHasher:
    hasher = HeldHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    return hasher


def test_web_logins_do_not_block_the_event_loop(
        node: Settings, commune: Commune, held: HeldHasher) -> None:
    app = create_app(node, background=False)

    async def login(client: httpx.AsyncClient, username: str) -> httpx.Response:
        page = await client.get("/login")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, "no csrf field on the login page"
        csrf = found.group(1)
        return await client.post("/login", data={"username": username, "csrf": csrf,
                                                 "password": "contraseña-larga"})

    assert asyncio.run(_while_held(app, held, login)) == [303] * 5


def test_api_logins_do_not_block_the_event_loop(
        node: Settings, commune: Commune, held: HeldHasher) -> None:
    app = create_app(node, background=False)

    async def login(client: httpx.AsyncClient, username: str) -> httpx.Response:
        return await client.post("/api/v1/tokens", json={
            "username": username, "password": "contraseña-larga", "label": "t"})

    assert asyncio.run(_while_held(app, held, login)) == [201] * 5


def test_a_failing_row_is_tried_again_within_seconds_then_backs_off(
        inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer's key server failing twice costs seconds, not the delivery schedule's
    minute; the waits then grow, and all attempts span over an hour."""
    ctx, proc, clock = inbox
    (bad,) = _stored(ctx, 1)

    async def handle(activity: dict[str, Any], recipient: str = "", signer: str = ""
                     ) -> None:
        raise RuntimeError("key server down for now")

    monkeypatch.setattr(proc, "handle", handle)
    waits = []
    for _ in range(MAX_ATTEMPTS - 1):
        before = clock.now
        assert asyncio.run(proc.run_once()) == 1
        clock.now = aware(_rows(ctx)[bad].next_attempt_at)
        waits.append((clock.now - before).total_seconds())
    assert waits[0] < 3 and waits[1] < 26  # about 2 s, then 20-25 s
    assert all(b > a for a, b in itertools.pairwise(waits[1:]))
    assert sum(waits) > 3600 and _rows(ctx)[bad].state == "queued"
