"""Follow → Accept, Undo, Reject, and who may undo or answer what."""

from __future__ import annotations

import json

from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.config import Settings
from node.context import NodeContext, build_context
from node.governance import follows
from node.models import Follower, Following, InboxItem, OutboxItem
from tests.conftest import NODE_URL, ctx_of
from tests.fakeremote import FakeRemote, RemoteActor
from tests.helpers import deliveries, run_loops, stored
from tests.inboxsend import ACTOR, processed, send


def followers(ctx: NodeContext) -> list[str]:
    with Session(ctx.engine) as s:
        return [f.follower_uri for f in s.exec(select(Follower)).all()]


def test_follow_is_accepted_and_accept_delivered(node: Settings, client: TestClient,
                                                 remote: FakeRemote) -> None:
    bob = remote.actor("bob")
    follow = bob.activity("Follow", ACTOR)
    send(client, bob, follow)
    ctx = run_loops(node, lambda c: processed(c) and bool(deliveries(c))
                    and deliveries(c)[0].state == "delivered")
    assert followers(ctx) == [bob.uri]
    accept = json.loads(remote.posts[-1]["body"])
    assert accept["type"] == "Accept" and accept["object"]["id"] == follow["id"]
    assert remote.posts[-1]["path"] == "/users/bob/inbox"
    page = client.get(f"{ACTOR}/followers").json()
    assert page["totalItems"] == 1 and page["orderedItems"] == [bob.uri]


def test_follow_of_someone_else_is_ignored(node: Settings, client: TestClient,
                                           remote: FakeRemote) -> None:
    bob = remote.actor("bob")
    send(client, bob, bob.activity("Follow", f"{NODE_URL}/actors/nobody"))
    ctx = run_loops(node, processed)
    assert followers(ctx) == []


def test_undo_follow_removes_follower(node: Settings, client: TestClient,
                                      remote: FakeRemote) -> None:
    bob = remote.actor("bob")
    follow = bob.activity("Follow", ACTOR)
    send(client, bob, follow)
    run_loops(node, processed)
    send(client, bob, bob.activity("Undo", follow))
    ctx = run_loops(node, processed)
    assert followers(ctx) == []


def test_undo_by_follow_id_alone(node: Settings, client: TestClient, remote: FakeRemote) -> None:
    bob, mallory = remote.actor("bob"), remote.actor("mallory")
    follow = bob.activity("Follow", ACTOR)
    send(client, bob, follow)
    run_loops(node, processed)
    send(client, mallory, mallory.activity("Undo", follow["id"]))
    ctx = run_loops(node, processed)
    assert followers(ctx) == [bob.uri]
    send(client, bob, bob.activity("Undo", follow["id"]))
    ctx = run_loops(node, processed)
    assert followers(ctx) == []


def test_nobody_can_undo_someone_elses_follow(node: Settings, client: TestClient,
                                              remote: FakeRemote) -> None:
    bob, mallory = remote.actor("bob"), remote.actor("mallory")
    follow = bob.activity("Follow", ACTOR)
    send(client, bob, follow)
    run_loops(node, processed)
    send(client, mallory, mallory.activity("Undo", follow))
    ctx = run_loops(node, processed)
    assert followers(ctx) == [bob.uri]


def _our_follow(node: Settings, remote: FakeRemote) -> tuple[RemoteActor, str]:
    ctx = build_context(node)
    bob = remote.actor("bob")
    with Session(ctx.engine) as s:
        follow_id = follows.follow(ctx.tx(s), ctx.primary, bob.uri, f"{bob.uri}/inbox")
        s.commit()
    return bob, follow_id


def _following_state(ctx: NodeContext) -> list[str]:
    with Session(ctx.engine) as s:
        return [f.state for f in s.exec(select(Following)).all()]


def test_accept_of_our_follow(node: Settings, client: TestClient, remote: FakeRemote) -> None:
    bob, follow_id = _our_follow(node, remote)
    send(client, bob, bob.activity("Accept", {"id": follow_id, "type": "Follow", "actor": ACTOR,
                                              "object": bob.uri}))
    ctx = run_loops(node, processed, delivery=False)
    assert _following_state(ctx) == ["accepted"]
    assert client.get(f"{ACTOR}/following").json()["orderedItems"] == [bob.uri]


def test_reject_of_our_follow(node: Settings, client: TestClient, remote: FakeRemote) -> None:
    bob, follow_id = _our_follow(node, remote)
    send(client, bob, bob.activity("Reject", follow_id))
    ctx = run_loops(node, processed, delivery=False)
    assert _following_state(ctx) == ["rejected"]


def test_accept_from_a_third_party_changes_nothing(node: Settings, client: TestClient,
                                                   remote: FakeRemote) -> None:
    _bob, follow_id = _our_follow(node, remote)
    mallory = remote.actor("mallory")
    send(client, mallory, mallory.activity("Accept", follow_id))
    ctx = run_loops(node, processed, delivery=False)
    assert _following_state(ctx) == ["pending"]


def test_processing_failure_is_retried_not_lost(node: Settings, client: TestClient,
                                                remote: FakeRemote) -> None:
    bob = remote.actor("bob")
    send(client, bob, bob.activity("Follow", ACTOR))
    ctx = ctx_of(client)
    # The follower's document cannot be fetched at processing time (server down, cache cold).
    ctx.directory._docs.clear()
    from node.activitypub.directory import expire_host_keys

    expire_host_keys(ctx.engine, "127.0.0.1")
    remote.down = True
    ctx2 = run_loops(node, lambda c: _inbox(c)[0].attempts == 1, delivery=False)
    row = _inbox(ctx2)[0]
    assert row.state == "queued" and "cannot fetch" in row.last_error
    remote.down = False
    with Session(ctx2.engine) as s:
        from node.models.base import utcnow
        r = stored(s, InboxItem, row.id)
        r.next_attempt_at = utcnow()
        s.add(r)
        s.commit()
    ctx3 = run_loops(node, processed, delivery=False)
    assert followers(ctx3) == [bob.uri]


def _inbox(ctx: NodeContext) -> list[InboxItem]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(InboxItem)).all())


def test_post_goes_to_outbox_and_followers(node: Settings, client: TestClient,
                                           remote: FakeRemote) -> None:
    bob = remote.actor("bob")
    send(client, bob, bob.activity("Follow", ACTOR))
    run_loops(node, processed)
    from node.cli.main import main as cli

    assert cli(["post", "--data-dir", str(node.data_dir), "Asamblea el sábado <b>"]) == 0
    ctx = run_loops(node, lambda c: all(d.state == "delivered" for d in deliveries(c))
                    and len(deliveries(c)) == 2)
    create = json.loads(remote.posts[-1]["body"])
    assert create["type"] == "Create" and create["object"]["type"] == "Note"
    assert "&lt;b&gt;" in create["object"]["content"]
    outbox = client.get(f"{ACTOR}/outbox").json()
    assert outbox["totalItems"] == 1  # the Accept is addressed to bob only, not public
    page = client.get(outbox["first"]).json()
    assert page["orderedItems"][0]["id"] == create["id"]
    note = client.get(create["object"]["id"].replace(NODE_URL, ""),
                      headers={"Accept": "application/activity+json"}).json()
    assert note["content"] == create["object"]["content"]
    with Session(ctx.engine) as s:
        accept = s.exec(select(OutboxItem).where(OutboxItem.activity_type == "Accept")).one()
    r = client.get(accept.activity_id.replace(NODE_URL, ""))
    assert r.status_code == 404  # not public
