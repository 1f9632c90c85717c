"""An account's Delete of itself, as servers broadcast it to every inbox they know: it
ends the account's follows here, and for the many accounts that had none it costs one
read, no transaction (issue 11: a flood of them drained at ~580 a second)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.config import Settings
from node.governance import follows
from node.models import AuditEntry, Following, InboxItem
from node.tx import Tx
from tests.conftest import ctx_of
from tests.fakeremote import FakeRemote
from tests.helpers import id_of, run_loops
from tests.inboxsend import ACTOR, processed, send

PUBLIC = ["https://www.w3.org/ns/activitystreams#Public"]


def test_an_account_is_known_by_its_follows_either_way(node: Settings, client: TestClient,
                                                       remote: FakeRemote) -> None:
    ctx = ctx_of(client)
    bob, carla, dora = (remote.actor(n) for n in ("bob", "carla", "dora"))
    send(client, bob, bob.activity("Follow", ACTOR))
    with Session(ctx.engine) as s:
        s.add(Following(actor_id=id_of(ctx.primary), target_uri=carla.uri,
                        follow_activity_id="https://node.test/follows/1"))
        s.commit()
    assert not follows.knows_account(ctx.engine, bob.uri)  # its Follow not processed yet
    run_loops(node, processed)
    assert follows.knows_account(ctx.engine, bob.uri)
    assert follows.knows_account(ctx.engine, carla.uri)
    assert not follows.knows_account(ctx.engine, dora.uri)


def test_a_stranger_deleting_itself_is_processed_without_a_transaction(
        node: Settings, client: TestClient, remote: FakeRemote,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dora = remote.actor("dora")
    ended: list[str] = []
    real = follows.forget_account

    def forget(tx: Tx, uri: str) -> int:
        ended.append(uri)
        return real(tx, uri)

    monkeypatch.setattr(follows, "forget_account", forget)
    send(client, dora, {**dora.activity("Delete", dora.uri), "to": PUBLIC})
    bob = remote.actor("bob")
    send(client, bob, bob.activity("Follow", ACTOR))
    ctx = run_loops(node, processed)
    send(client, bob, {**bob.activity("Delete", bob.uri), "to": PUBLIC})
    ctx = run_loops(node, processed)
    with Session(ctx.engine) as s:
        states = {r.activity_type + " " + r.actor.rsplit("/", 1)[1]: r.state
                  for r in s.exec(select(InboxItem)).all()}
        audited = s.exec(select(AuditEntry).where(
            AuditEntry.action == "account.deleted")).all()
    assert states == {"Delete dora": "done", "Follow bob": "done", "Delete bob": "done"}
    # Only bob, who followed, went through the transaction that ends follows.
    assert ended == [bob.uri]
    assert [a.subject for a in audited] == [f"remote:{bob.uri}"]
