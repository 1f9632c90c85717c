"""The delivery circuit breaker: its state graph on an injectable clock, the one probe,
the release of a host's queue, hearing from a host, and errors of our own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, update
from sqlmodel import Session, col
from starlette.testclient import TestClient

from node.config import Settings
from node.context import NodeContext, build_context
from node.models import Delivery, Follower, PeerHost
from node.outbox import breaker
from node.outbox.breaker import CLOSED, HALF_OPEN, OPEN, Policy, State, can_probe, step
from node.outbox.delivery import Limits, LocalFailure, claim_work, record_outcomes
from node.outbox.publish import post_note
from node.outbox.sender import SendResult
from tests.conftest import NODE_URL, ctx_of
from tests.fakeremote import FakeRemote
from tests.helpers import deliveries, id_of, run_loops, stored

# A little after the rows the tests make (stamped with the wall clock) are due.
# Rows are stamped with the wall clock when they are made; the test clock starts after
# every such stamp of the run (the suite may reach this file many minutes after import).
T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
POLICY = Policy(threshold=3, cooldown=5.0, cooldown_max=600.0, probe_seconds=20.0)
PEER = "peer.example:8443"
DOWN = SendResult(503, None, "HTTP 503")
REFUSED = SendResult(None, None, "ClientConnectorError: connection refused")
UP = SendResult(202, None, "")
INBOX = f"{NODE_URL}/actors/maizal/inbox"


def utc(moment: datetime | None) -> datetime:
    """A time the row or state must have, read back as UTC (SQLite drops the zone)."""
    assert moment is not None, "expected a time, found none"
    return moment.replace(tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def tripped(now: datetime = T0) -> State:
    s = State()
    for _ in range(POLICY.threshold):
        s = step(s, "failure", now, POLICY)
    return s


# -- the graph -------------------------------------------------------------------------

def test_opens_after_threshold_failures_in_a_row() -> None:
    s = step(step(State(), "failure", T0, POLICY), "failure", T0, POLICY)
    assert s.breaker == CLOSED and s.failures == 2
    assert step(s, "success", T0, POLICY) == State()  # an answer resets the count
    s = step(s, "failure", T0, POLICY)
    assert s.breaker == OPEN and s.trips == 1 and s.open_until == at(5)


def test_probe_only_once_the_cooldown_is_over_and_only_one() -> None:
    s = tripped()
    assert not can_probe(s, at(4.9)) and step(s, "probe", at(4.9), POLICY, 7) == s
    probing = step(s, "probe", at(5), POLICY, 7)
    assert probing.breaker == HALF_OPEN and probing.probe_id == 7
    assert probing.probe_until == at(25)
    # While the probe is out nobody else probes; a prober that died frees it later.
    assert not can_probe(probing, at(24)) and can_probe(probing, at(25.1))


def test_probe_failure_doubles_the_cooldown_up_to_the_cap() -> None:
    s, now, waits = tripped(), T0, []
    for _ in range(12):
        now = utc(s.open_until)
        s = step(step(s, "probe", now, POLICY, 1), "probe_failure", now, POLICY)
        assert s.breaker == OPEN and s.probe_id is None
        waits.append((utc(s.open_until) - now).total_seconds())
    assert waits[:5] == [10, 20, 40, 80, 160]
    assert waits[-1] == 600 and max(waits) == 600


def test_probe_success_closes_and_forgets_the_trips() -> None:
    s = tripped()
    for _ in range(3):
        s = step(step(s, "probe", utc(s.open_until), POLICY, 1), "probe_failure",
                 utc(s.open_until), POLICY)
    assert s.trips == 4
    s = step(step(s, "probe", utc(s.open_until), POLICY, 1), "success", utc(s.open_until),
             POLICY)
    assert s == State()
    # The next outage starts again from the short cooldown.
    assert tripped(at(1000)).open_until == at(1005)


def test_late_failures_while_open_do_not_extend_it_and_a_void_probe_frees_it() -> None:
    s = tripped()
    later = step(s, "failure", at(1), POLICY)
    assert later.open_until == s.open_until and later.trips == 1 and later.failures == 4
    probing = step(s, "probe", at(5), POLICY, 3)
    freed = step(probing, "probe_void", at(6), POLICY)
    assert freed.breaker == HALF_OPEN and can_probe(freed, at(6))
    # A failure that is not the probe's does not re-open a half-open breaker.
    assert step(probing, "failure", at(6), POLICY).breaker == HALF_OPEN


# -- in the database ---------------------------------------------------------------------

def queue(ctx: NodeContext, n: int, inbox: str = f"https://{PEER}/inbox") -> list[int]:
    with Session(ctx.engine) as s:
        s.add(Follower(actor_id=id_of(ctx.primary), follower_uri=f"https://{PEER}/u/x",
                       inbox=inbox))
        s.commit()
        for i in range(n):
            post_note(ctx.tx(s), ctx.primary, f"note {i}")
        s.commit()
    return [id_of(d) for d in deliveries(ctx) if d.host == PEER and d.state == "queued"]


def peer(ctx: NodeContext) -> PeerHost:
    with Session(ctx.engine) as s:
        p = stored(s, PeerHost, PEER)
        assert p is not None
        return p


def limits(max_attempts: int = 16) -> Limits:
    return Limits(max_attempts, 30.0, POLICY)


# The `clock` fixture: claiming and the breaker read "t" as the time.
Clock = dict[str, datetime]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Claiming and the breaker read this clock instead of the wall's."""
    now: Clock = {"t": T0}
    monkeypatch.setattr("node.storage.leases.utcnow", lambda: now["t"])
    monkeypatch.setattr("node.outbox.breaker.utcnow", lambda: now["t"])
    return now


def open_the_breaker(ctx: NodeContext, clock: Clock) -> None:
    rows = claim_work(ctx.engine, 100, POLICY)
    record_outcomes(ctx.engine, [(r, DOWN) for r in rows], limits(), now=clock["t"])
    assert peer(ctx).breaker == OPEN


def test_one_probe_even_if_not_due_then_success_releases_the_queue_in_order(node: Settings,
                                                                            clock: Clock) -> None:
    ctx = build_context(node)
    ids = queue(ctx, 6)
    open_the_breaker(ctx, clock)
    assert claim_work(ctx.engine, 100, POLICY) == []  # held, though nothing is leased
    clock["t"] = at(5)
    probes = claim_work(ctx.engine, 100, POLICY)
    # The oldest row, though its own retry is 30 s away; and only one, even when
    # another worker looks at the same moment.
    assert [r.id for r in probes] == [ids[0]]
    assert utc(probes[0].next_attempt_at) > clock["t"]
    assert claim_work(ctx.engine, 100, POLICY) == []
    assert peer(ctx).breaker == HALF_OPEN and peer(ctx).probe_id == ids[0]
    released = record_outcomes(ctx.engine, [(probes[0], UP)], limits(), now=clock["t"])
    assert released == {PEER}
    p = peer(ctx)
    assert (p.breaker, p.trips, p.consecutive_failures) == (CLOSED, 0, 0)
    rest = claim_work(ctx.engine, 100, POLICY)
    assert [r.id for r in rest] == ids[1:]


def test_workers_looking_at_once_send_one_probe(node: Settings, clock: Clock) -> None:
    """Eight claimers at the same moment (on PostgreSQL truly at once): one probe."""
    ctx = build_context(node)
    queue(ctx, 6)
    open_the_breaker(ctx, clock)
    clock["t"] = at(5)
    barrier = threading.Barrier(8)

    def worker() -> list[Delivery]:
        barrier.wait()
        return claim_work(ctx.engine, 100, POLICY)

    with ThreadPoolExecutor(8) as pool:
        got = [r for rows in pool.map(lambda _: worker(), range(8)) for r in rows]
    assert len(got) == 1 and peer(ctx).probe_id == got[0].id


def test_a_failed_probe_reopens_for_longer_and_is_not_the_rows_attempt(node: Settings,
                                                                       clock: Clock) -> None:
    ctx = build_context(node)
    ids = queue(ctx, 4)
    open_the_breaker(ctx, clock)
    clock["t"] = at(5)
    probe = claim_work(ctx.engine, 100, POLICY)
    record_outcomes(ctx.engine, [(probe[0], DOWN)], limits(), now=clock["t"])
    p = peer(ctx)
    assert p.breaker == OPEN and p.trips == 2
    assert utc(p.open_until) == at(15)
    # Sent early for the breaker: the row's own count and schedule did not move.
    row = next(d for d in deliveries(ctx) if d.id == ids[0])
    assert row.attempts == 1 and row.lease_until is None and row.state == "queued"


def test_a_verified_activity_from_the_host_closes_and_releases(
        node: Settings, clock: Clock) -> None:
    ctx = build_context(node)
    ids = queue(ctx, 3)
    open_the_breaker(ctx, clock)
    breaker.watch_of(ctx.engine).settle(set(), {PEER})
    assert breaker.heard_from(ctx.engine, {PEER, "other.example"}) == {PEER}
    assert peer(ctx).breaker == CLOSED
    assert [r.id for r in claim_work(ctx.engine, 100, POLICY)] == ids


def test_hearing_from_healthy_hosts_costs_no_query(node: Settings) -> None:
    ctx = build_context(node)
    watch = breaker.watch_of(ctx.engine)
    watch.refresh(ctx.engine)
    statements: list[str] = []
    event.listen(ctx.engine, "before_cursor_execute",
                 lambda *a: statements.append(a[2]))
    for _ in range(100):
        assert breaker.heard_from(ctx.engine, {"fine.example", "also.example:8443"}) == set()
    assert not watch.worth_a_look({"fine.example"})
    assert statements == []


def test_errors_of_ours_never_count_against_the_host(node: Settings, clock: Clock) -> None:
    ctx = build_context(node)
    queue(ctx, 8)
    rows = claim_work(ctx.engine, 100, POLICY)
    local = LocalFailure("KeyError: 'maizal'")
    record_outcomes(ctx.engine, [(r, local) for r in rows], limits(), now=clock["t"])
    with Session(ctx.engine) as s:
        p = s.get(PeerHost, PEER)
        assert p is None or (p.breaker == CLOSED and p.consecutive_failures == 0)
    for d in deliveries(ctx):
        assert d.state == "queued" and d.attempts == 1
        assert d.last_error.startswith(breaker.LOCAL_ERROR)
        # Soon again: a body made a moment ago in another process is known there.
        assert utc(d.next_attempt_at) - clock["t"] < timedelta(seconds=3)


def test_a_signing_failure_in_the_worker_leaves_the_remote_host_alone(
        node: Settings, remote: FakeRemote, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_key(self: NodeContext, handle: str) -> None:
        raise KeyError(handle)

    monkeypatch.setattr(NodeContext, "signing_key", no_key)
    ctx = build_context(node)
    with Session(ctx.engine) as s:
        for name in ("a", "b", "c", "d", "e", "f"):
            s.add(Follower(actor_id=id_of(ctx.primary), follower_uri=f"{remote.base}/users/{name}",
                           inbox=f"{remote.base}/users/{name}/inbox"))
        post_note(ctx.tx(s), ctx.primary, "hola")
        s.commit()
    ctx = run_loops(node, lambda c: all(d.attempts >= 1 for d in deliveries(c)))
    assert remote.posts == []
    with Session(ctx.engine) as s:
        p = s.get(PeerHost, remote.netloc)
        assert p is None or (p.breaker == CLOSED and p.consecutive_failures == 0)
    assert all(d.state == "queued" and "KeyError" in d.last_error for d in deliveries(ctx))


# -- a peer down for two days ------------------------------------------------------------

# A cap of an hour keeps the simulations short; the default 10 min only probes more often.
DAYS_POLICY = Policy(threshold=5, cooldown=5.0, cooldown_max=3600.0, probe_seconds=20.0)


def simulate(ctx: NodeContext, clock: Clock, back: datetime | None, until: datetime,
             before_back: Callable[[list[Delivery]], None] | None = None
             ) -> list[tuple[datetime, int]]:
    """A worker against a peer that is down until `back`, on the test's clock: returns
    (when, row id) of every request sent. `before_back` sees the queue just before."""
    sent: list[tuple[datetime, int]] = []
    lim = Limits(16, 30.0, DAYS_POLICY)
    while clock["t"] < until:
        up = back is not None and clock["t"] >= back
        rows = claim_work(ctx.engine, 100, DAYS_POLICY)
        if rows:
            sent += [(clock["t"], r.id) for r in rows]
            record_outcomes(ctx.engine, [(r, UP if up else REFUSED) for r in rows], lim,
                            now=clock["t"])
            continue
        if not any(d.state == "queued" for d in deliveries(ctx)):
            break
        wake = next_wake(ctx, clock["t"])
        if before_back is not None and back is not None and clock["t"] < back <= wake:
            before_back(deliveries(ctx))
            before_back = None
        clock["t"] = wake
    return sent


def test_a_peer_down_for_two_days_gets_everything_when_it_returns(
        node: Settings, clock: Clock) -> None:
    """16 attempts span more than two days; the breaker's probes stand in for the rows'
    own attempts, so nothing is parked and nothing floods."""
    ctx = build_context(node)
    ids = queue(ctx, 5)
    back = at(2 * 86400)
    seen: list[list[tuple[str, int]]] = []

    def just_before(rows: list[Delivery]) -> None:
        seen.append([(d.state, d.attempts) for d in rows])

    sent = simulate(ctx, clock, back, back + timedelta(hours=2), just_before)
    # Just before it returns everything still waits, its retries counted all along.
    assert len(seen) == 1 and {state for state, _ in seen[0]} == {"queued"}
    assert all(13 <= attempts < 16 for _, attempts in seen[0]), seen
    assert {d.state for d in deliveries(ctx)} == {"delivered"}
    after = [(t, i) for t, i in sent if t >= back]
    assert [i for _, i in after] == ids  # each once, in the order they were made
    assert max(t for t, _ in after) - back <= timedelta(seconds=DAYS_POLICY.cooldown_max)
    # About one request per cooldown while down, not one per row per retry.
    assert len(sent) - len(after) < 2 * 86400 / DAYS_POLICY.cooldown_max + 40


def test_a_peer_that_never_returns_is_parked_after_its_schedule(
        node: Settings, clock: Clock) -> None:
    ctx = build_context(node)
    queue(ctx, 3)
    simulate(ctx, clock, None, at(4 * 86400))
    rows = deliveries(ctx)
    assert {d.state for d in rows} == {"failed"} and {d.attempts for d in rows} == {16}
    parked = max(d.updated_at.replace(tzinfo=UTC) for d in rows) - T0
    assert timedelta(days=2) < parked < timedelta(days=3)


def next_wake(ctx: NodeContext, now: datetime) -> datetime:
    """When a worker polling every second would next find work: no waiting in the test."""
    p = peer(ctx)
    if p.breaker == CLOSED:
        due = [utc(d.next_attempt_at) for d in deliveries(ctx)
               if d.state == "queued"]
        wake = min(due, default=now)
    elif p.breaker == OPEN:
        wake = utc(p.open_until)
    else:
        wake = utc(p.probe_until)
    return wake if wake > now else now + timedelta(seconds=1)


def test_local_row_is_not_the_probe_until_due(node: Settings, clock: Clock) -> None:
    """A row put back for our own error would fail again as the probe: the next one goes."""
    ctx = build_context(node)
    ids = queue(ctx, 3)
    open_the_breaker(ctx, clock)
    with Session(ctx.engine) as s:
        s.execute(update(Delivery).where(col(Delivery.id) == ids[0]).values(
            last_error=f"{breaker.LOCAL_ERROR}KeyError: 'x'", next_attempt_at=at(3600)))
        s.commit()
    clock["t"] = at(5)
    assert [r.id for r in claim_work(ctx.engine, 100, POLICY)] == [ids[1]]


def test_the_inbox_closes_the_breaker_of_a_host_it_hears_from(client: TestClient,
                                                              remote: FakeRemote) -> None:
    """Through the real inbox: a signed activity from a held host releases its queue."""
    ctx = ctx_of(client)
    host = remote.netloc
    with Session(ctx.engine) as s:
        s.add(Follower(actor_id=id_of(ctx.primary), follower_uri=f"{remote.base}/users/bob",
                       inbox=f"{remote.base}/users/bob/inbox"))
        post_note(ctx.tx(s), ctx.primary, "hola")
        s.execute(update(Delivery).values(attempts=3, next_attempt_at=at(3600)))
        s.add(PeerHost(host=host, breaker=OPEN, trips=4, consecutive_failures=8,
                       open_until=at(600)))
        s.commit()
    alice = remote.actor("alice")
    body, headers = alice.signed_post(INBOX, alice.activity())
    assert client.post(INBOX, content=body, headers=headers).status_code == 202
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with Session(ctx.engine) as s:
            p = stored(s, PeerHost, host)
            if p.breaker == CLOSED:
                break
        time.sleep(0.05)
    assert (p.breaker, p.trips, p.consecutive_failures) == (CLOSED, 0, 0)
    row = deliveries(ctx)[0]
    assert row.state == "queued" and utc(row.next_attempt_at) < at(0)


def test_status_shows_the_circuit_and_its_trips(node: Settings, clock: Clock) -> None:
    from node.outbox.status import federation_status

    ctx = build_context(node)
    queue(ctx, 6)
    before = {h["host"]: h for h in federation_status(ctx.engine)["hosts"]}
    assert before[PEER]["circuit"] == "closed" and before[PEER]["circuit_trips"] == 0
    open_the_breaker(ctx, clock)
    after = {h["host"]: h for h in federation_status(ctx.engine)["hosts"]}
    assert after[PEER]["circuit"] == "open" and after[PEER]["circuit_trips"] == 1
    assert after[PEER]["circuit_open_until"] is not None


def test_a_bare_name_block_holds_every_port_of_it_in_delivery_too(
        node: Settings, clock: Clock) -> None:
    """Blocking "peer.example" stops deliveries to peer.example:8443 (and its probe),
    as the inbox refuses every port of a bare-name block; a port block stays a port's."""
    from node.outbox.status import set_blocked

    ctx = build_context(node)
    with Session(ctx.engine) as s:
        for host in (PEER, "peer.example:9443", "peerxexample:8443"):
            s.add(Follower(actor_id=id_of(ctx.primary), follower_uri=f"https://{host}/u/x",
                           inbox=f"https://{host}/inbox"))
        s.commit()
        post_note(ctx.tx(s), ctx.primary, "una nota")
        s.commit()
    to = {d.host: d.id for d in deliveries(ctx)}
    assert set(to) == {PEER, "peer.example:9443", "peerxexample:8443"}

    set_blocked(ctx.engine, "peer.example:9443", True)
    assert {r.host for r in claim_work(ctx.engine, 100, POLICY)} == {PEER, "peerxexample:8443"}
    set_blocked(ctx.engine, "peer.example:9443", False)

    clock["t"] = at(600)  # every lease above has run out
    set_blocked(ctx.engine, "peer.example", True)
    assert {r.host for r in claim_work(ctx.engine, 100, POLICY)} == {"peerxexample:8443"}
    # Nor is one let through as a probe when the port's own breaker has cooled down.
    with Session(ctx.engine) as s:
        s.add(PeerHost(host=PEER, breaker=OPEN, open_until=at(600)))
        s.commit()
    clock["t"] = at(1200)
    assert {r.host for r in claim_work(ctx.engine, 100, POLICY)} == {"peerxexample:8443"}
    set_blocked(ctx.engine, "peer.example", False)
    # Unblocked: the probe of the held port and the other port's row.
    assert {r.id for r in claim_work(ctx.engine, 100, POLICY)} == {
        to[PEER], to["peer.example:9443"]}
    assert peer(ctx).breaker == HALF_OPEN


def test_an_answer_after_a_few_failures_releases_rows_that_failed_meanwhile(
        node: Settings, clock: Clock) -> None:
    """A receiver coming back: rows in flight at its restart failed (fewer than the
    breaker's threshold, so it never opened) and were put off by their backoff. The
    next answer from the host makes them due at once, in order."""
    ctx = build_context(node)
    ids = queue(ctx, 4)
    rows = claim_work(ctx.engine, 100, POLICY)
    failed, answered = rows[:2], rows[2:3]
    record_outcomes(ctx.engine, [(r, DOWN) for r in failed], limits(), now=clock["t"])
    p = peer(ctx)
    assert (p.breaker, p.consecutive_failures) == (CLOSED, 2)
    clock["t"] = at(3)
    assert {r.id for r in claim_work(ctx.engine, 100, POLICY)} <= {ids[3]}  # not the failed
    released = record_outcomes(ctx.engine, [(r, UP) for r in answered], limits(),
                               now=clock["t"])
    assert released == {PEER}
    assert peer(ctx).consecutive_failures == 0
    again = claim_work(ctx.engine, 100, POLICY)
    assert [r.id for r in again][:2] == ids[:2]
