"""The delivery queue: signing, retries, backoff, Retry-After, parking, circuit breaker
(its graph, probe and release in detail: tests/test_breaker.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session, select

from node.activitypub.httpsig import HttpMessage, prepare
from node.activitypub.keys import load_public_pem
from node.config import Settings
from node.context import NodeContext, build_context
from node.demo.nodes import free_port
from node.models import Follower, LocalActor, PeerHost
from node.models.base import utcnow
from tests.fakeremote import FakeRemote
from tests.helpers import deliveries, id_of, make_due, run_loops, stored
from tests.outboxwork import add_follower, post


def attempts_made(n: int) -> Callable[[NodeContext], bool]:
    """Until the first delivery has been tried `n` times."""
    return lambda c: deliveries(c)[0].attempts == n


def settled(ctx: NodeContext) -> bool:
    return all(d.state != "queued" or d.attempts > 0 for d in deliveries(ctx)) and bool(
        deliveries(ctx))


def test_delivery_is_signed_and_verifiable(node: Settings, remote: FakeRemote) -> None:
    add_follower(node, f"{remote.base}/users/bob/inbox", f"{remote.base}/users/bob")
    activity_id = post(node)
    ctx = run_loops(node, lambda c: deliveries(c)[0].state == "delivered")
    assert len(remote.posts) == 1
    sent = remote.posts[0]
    msg = HttpMessage.request("POST", f"{remote.base}{sent['path']}", sent["headers"].items(),
                              sent["body"])
    prepared = prepare(msg)
    with Session(ctx.engine) as s:
        actor = s.exec(select(LocalActor)).one()
    assert prepared.key_id == ctx.urls.main_key(actor.handle)
    prepared.verify(load_public_pem(actor.rsa_public_pem))
    assert activity_id.encode() in sent["body"]
    # The activity also carries the body's own proof, checkable after any relay.
    import json

    from node.activitypub.directory import keys_in
    from node.activitypub.documents import actor_document
    from node.activitypub.proofs import verify_object

    doc = json.loads(sent["body"])
    published = keys_in(actor_document(actor, ctx.urls))
    method = doc["proof"]["verificationMethod"]
    key = published[method].key
    assert isinstance(key, Ed25519PublicKey), f"{method} is not an Ed25519 key"
    assert verify_object(doc, key) == ctx.urls.ed25519_key(actor.handle)


def test_shared_inbox_is_used_once_per_server(node: Settings, remote: FakeRemote) -> None:
    ctx = build_context(node)
    with Session(ctx.engine) as s:
        for name in ("a", "b", "c"):
            s.add(Follower(actor_id=id_of(ctx.primary), follower_uri=f"{remote.base}/users/{name}",
                           inbox=f"{remote.base}/users/{name}/inbox",
                           shared_inbox=f"{remote.base}/inbox"))
        s.commit()
    post(node)
    rows = deliveries(ctx)
    assert [r.inbox for r in rows] == [f"{remote.base}/inbox"]


def test_server_error_is_retried_with_backoff_then_delivered(node: Settings,
                                                             remote: FakeRemote) -> None:
    add_follower(node, f"{remote.base}/users/bob/inbox", f"{remote.base}/users/bob")
    remote.post_statuses = [(503, {})]
    post(node)
    ctx = run_loops(node, lambda c: deliveries(c)[0].attempts == 1)
    row = deliveries(ctx)[0]
    assert row.state == "queued" and row.last_status == 503
    wait = row.next_attempt_at - utcnow()
    assert timedelta(seconds=20) < wait < timedelta(seconds=40)
    make_due(ctx.engine)
    run_loops(node, lambda c: deliveries(c)[0].state == "delivered")
    assert [p["status"] for p in remote.posts] == [503, 202]


def test_retry_after_is_honoured(node: Settings, remote: FakeRemote) -> None:
    add_follower(node, f"{remote.base}/users/bob/inbox", f"{remote.base}/users/bob")
    remote.post_statuses = [(429, {"Retry-After": "3600"})]
    post(node)
    ctx = run_loops(node, lambda c: deliveries(c)[0].attempts == 1)
    row = deliveries(ctx)[0]
    assert row.state == "queued"
    assert row.next_attempt_at - utcnow() > timedelta(seconds=3500)


def test_permanent_client_error_parks_at_once(node: Settings, remote: FakeRemote) -> None:
    add_follower(node, f"{remote.base}/users/bob/inbox", f"{remote.base}/users/bob")
    remote.post_statuses = [(403, {})]
    post(node)
    ctx = run_loops(node, lambda c: deliveries(c)[0].state == "failed")
    assert deliveries(ctx)[0].attempts == 1
    assert len(remote.posts) == 1


def test_401_408_429_are_retried(node: Settings, remote: FakeRemote) -> None:
    add_follower(node, f"{remote.base}/users/bob/inbox", f"{remote.base}/users/bob")
    remote.post_statuses = [(401, {}), (408, {}), (429, {})]
    post(node)
    for n in (1, 2, 3):
        ctx = run_loops(node, attempts_made(n))
        assert deliveries(ctx)[0].state == "queued"
        make_due(ctx.engine)
    run_loops(node, lambda c: deliveries(c)[0].state == "delivered")


def test_gives_up_after_max_attempts(make_node: Callable[..., Settings],
                                     remote: FakeRemote) -> None:
    node = make_node(delivery_max_attempts=3, breaker_threshold=100)
    add_follower(node, f"{remote.base}/users/bob/inbox", f"{remote.base}/users/bob")
    remote.post_statuses = [(500, {})] * 3
    post(node)
    for n in (1, 2):
        ctx = run_loops(node, attempts_made(n))
        make_due(ctx.engine)
    ctx = run_loops(node, lambda c: deliveries(c)[0].state == "failed")
    assert deliveries(ctx)[0].attempts == 3


def test_circuit_breaker_spares_healthy_hosts(make_node: Callable[..., Settings],
                                              remote: FakeRemote) -> None:
    node = make_node(breaker_threshold=2, breaker_cooldown=600)
    dead = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    dead_host = f"127.0.0.1:{dead.rsplit(':', 1)[1]}"
    add_follower(node, f"{dead}/inbox", f"{dead}/users/x")
    post(node, "uno")
    ctx = run_loops(node, lambda c: deliveries(c)[0].attempts == 1)
    make_due(ctx.engine)
    ctx = run_loops(node, lambda c: deliveries(c)[0].attempts == 2)
    with Session(ctx.engine) as s:
        peer = stored(s, PeerHost, dead_host)
        assert peer.consecutive_failures == 2 and peer.breaker == "open"
        assert peer.open_until is not None and peer.trips == 1
        assert "Connect" in peer.last_error or "connect" in peer.last_error
    # A new post reaches the healthy host; the dead one gets no more than the one probe
    # a starting worker sends to each held host (trips 2), not a try of every row.
    add_follower(node, f"{remote.base}/users/bob/inbox", f"{remote.base}/users/bob")
    post(node, "dos")
    make_due(ctx.engine)
    ctx = run_loops(node, lambda c: any(d.state == "delivered" for d in deliveries(c)))
    dead_rows = [d for d in deliveries(ctx) if d.inbox.startswith(dead)]
    assert [d.state for d in dead_rows] == ["queued", "queued"]
    with Session(ctx.engine) as s:
        peer = stored(s, PeerHost, dead_host)
        assert peer.breaker in ("open", "half_open") and peer.trips <= 2


def test_private_addresses_refused_unless_allowed(make_node: Callable[..., Settings],
                                                  remote: FakeRemote) -> None:
    node = make_node(allow_private_networks=False)
    add_follower(node, f"{remote.base}/users/bob/inbox", f"{remote.base}/users/bob")
    post(node)
    ctx = run_loops(node, lambda c: deliveries(c)[0].attempts == 1)
    assert "non-public" in deliveries(ctx)[0].last_error
    assert remote.posts == []
