"""Every inbox rule, each tried by a request that should break it. A refused request
must leave the database unchanged."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from node.models import InboxItem
from tests.conftest import NODE_URL, ctx_of
from tests.fakeremote import FakeRemote, start_fake_remote

INBOX = f"{NODE_URL}/actors/maizal/inbox"
SHARED = f"{NODE_URL}/inbox"


def count(client: TestClient) -> int:
    with Session(ctx_of(client).engine) as s:
        return s.exec(select(func.count()).select_from(InboxItem)).one()


def post(client: TestClient, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    r: httpx.Response = client.post(url, content=body, headers=headers)
    return r


def test_signed_create_is_stored_then_202(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    body, headers = alice.signed_post(INBOX, alice.activity())
    r = post(client, INBOX, body, headers)
    assert r.status_code == 202, r.text
    with Session(ctx_of(client).engine) as s:
        row = s.exec(select(InboxItem)).one()
    # A Note from a stranger is nothing anything here acts on: stored already handled.
    assert row.actor == alice.uri and row.state == "done" and row.recipient == "maizal"
    assert row.signer == alice.key_id
    assert json.loads(row.body)["type"] == "Create"


def test_shared_inbox_accepts(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    body, headers = alice.signed_post(SHARED, alice.activity())
    assert post(client, SHARED, body, headers).status_code == 202
    assert count(client) == 1


def test_unknown_recipient_is_404(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    url = f"{NODE_URL}/actors/nobody/inbox"
    body, headers = alice.signed_post(url, alice.activity())
    assert post(client, url, body, headers).status_code == 404
    assert count(client) == 0


def test_repeated_id_is_acknowledged_and_stored_once(client: TestClient,
                                                     remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    act = alice.activity()
    for _ in range(3):
        body, headers = alice.signed_post(INBOX, act)
        assert post(client, INBOX, body, headers).status_code == 202
    assert count(client) == 1


def test_unsigned_is_refused(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    body = json.dumps(alice.activity()).encode()
    r = post(client, INBOX, body, {"Content-Type": "application/activity+json"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert "not signed" in r.json()["detail"]
    assert count(client) == 0


def test_signature_header_present_but_garbage(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    body = json.dumps(alice.activity()).encode()
    r = post(client, INBOX, body, {"Content-Type": "application/activity+json",
                                   "Signature": "nonsense"})
    assert r.status_code == 401
    assert count(client) == 0


def test_wrong_key_is_refused(client: TestClient, remote: FakeRemote) -> None:
    from node.activitypub.keys import generate_rsa

    alice = remote.actor("alice")
    body, headers = alice.signed_post(INBOX, alice.activity(), key=generate_rsa())
    r = post(client, INBOX, body, headers)
    assert r.status_code == 401
    assert count(client) == 0


def test_altered_body_is_refused(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    act = alice.activity()
    _body, headers = alice.signed_post(INBOX, act)
    act["object"]["content"] = "altered"
    r = post(client, INBOX, json.dumps(act).encode(), headers)
    assert r.status_code == 401
    assert "Digest" in r.json()["detail"]
    assert count(client) == 0


def test_stale_and_future_dates_are_refused(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    for offset, word in ((-13 * 3600, "too old"), (2 * 3600, "future")):
        body, headers = alice.signed_post(INBOX, alice.activity(), now=time.time() + offset)
        r = post(client, INBOX, body, headers)
        assert r.status_code == 401
        assert word in r.json()["detail"]
    # Just inside both edges is fine.
    for offset in (-11 * 3600, 50 * 60):
        body, headers = alice.signed_post(INBOX, alice.activity(), now=time.time() + offset)
        assert post(client, INBOX, body, headers).status_code == 202
    assert count(client) == 2


def test_digest_must_be_signed(client: TestClient, remote: FakeRemote) -> None:
    from node.activitypub.httpsig import algorithms, cavage
    from node.activitypub.httpsig.cavage import build_header
    from node.activitypub.httpsig.message import HttpMessage

    alice = remote.actor("alice")
    body = json.dumps(alice.activity()).encode()
    from email.utils import formatdate

    headers = {"Host": "node.test", "Date": formatdate(usegmt=True),
               "Content-Type": "application/activity+json"}
    signed = ["(request-target)", "host", "date"]
    msg = HttpMessage.request("POST", INBOX, headers.items(), body)
    params = cavage.CavageParams(alice.key_id, "rsa-sha256", signed, b"")
    sig = algorithms.sign("rsa-v1_5-sha256", alice.rsa_key,
                          cavage.signing_string(params, msg).encode())
    headers["Signature"] = build_header(alice.key_id, "rsa-sha256", signed, sig)
    headers.pop("Host")
    r = post(client, INBOX, body, headers)
    assert r.status_code == 401 and "digest" in r.json()["detail"]
    assert count(client) == 0


def test_keyid_host_that_does_not_answer(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    body, headers = alice.signed_post(INBOX, alice.activity())
    remote.down = True
    r = post(client, INBOX, body, headers)
    # No verdict on the signature: try again later, not "your signature is bad".
    assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
    assert "cannot fetch" in r.json()["detail"]
    assert count(client) == 0


def test_signer_must_be_the_actor(client: TestClient, remote: FakeRemote) -> None:
    alice, mallory = remote.actor("alice"), remote.actor("mallory")
    act = alice.activity()
    body, headers = mallory.signed_post(INBOX, act)
    r = post(client, INBOX, body, headers)
    assert r.status_code == 403
    assert "proof" in r.json()["detail"]
    assert count(client) == 0


def test_relayed_activity_with_authors_proof_is_accepted(client: TestClient,
                                                         remote: FakeRemote) -> None:
    alice, relay = remote.actor("alice"), remote.actor("relay")
    act = alice.prove(alice.activity())
    body, headers = relay.signed_post(INBOX, act)
    assert post(client, INBOX, body, headers).status_code == 202
    assert count(client) == 1


def test_relayed_activity_with_tampered_proof_is_refused(client: TestClient,
                                                         remote: FakeRemote) -> None:
    alice, relay = remote.actor("alice"), remote.actor("relay")
    act = alice.prove(alice.activity())
    act["object"]["content"] = "forged"
    body, headers = relay.signed_post(INBOX, act)
    r = post(client, INBOX, body, headers)
    assert r.status_code == 403
    assert count(client) == 0


def test_relayed_activity_with_proof_by_someone_else_is_refused(client: TestClient,
                                                                remote: FakeRemote) -> None:
    alice, relay = remote.actor("alice"), remote.actor("relay")
    act = relay.prove(alice.activity())  # valid proof, but by the relay, not the author
    body, headers = relay.signed_post(INBOX, act)
    r = post(client, INBOX, body, headers)
    assert r.status_code == 403
    assert count(client) == 0


def test_activity_id_on_another_host_than_actor(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    act = alice.activity()
    act["id"] = "https://elsewhere.example/activities/1"
    body, headers = alice.signed_post(INBOX, act)
    assert post(client, INBOX, body, headers).status_code == 403
    assert count(client) == 0


def test_oversized_body_is_413(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    act = alice.activity()
    act["object"]["content"] = "x" * (300 * 1024)
    body, headers = alice.signed_post(INBOX, act)
    r = post(client, INBOX, body, headers)
    assert r.status_code == 413
    assert remote.gets == []  # refused before any key fetch
    assert count(client) == 0


def test_non_json_and_wrong_type_are_400(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    body, headers = alice.signed_post(INBOX, None, body=b"{not json")
    r = post(client, INBOX, body, headers)
    assert r.status_code == 400 and r.json()["code"] == "bad-json"
    body, headers = alice.signed_post(INBOX, alice.activity())
    headers["Content-Type"] = "text/plain"
    r = post(client, INBOX, body, headers)
    assert r.status_code == 400 and r.json()["code"] == "bad-content-type"
    body, headers = alice.signed_post(INBOX, ["a", "list"])
    assert post(client, INBOX, body, headers).status_code == 400
    no_id = alice.activity()
    del no_id["id"]
    body, headers = alice.signed_post(INBOX, no_id)
    assert post(client, INBOX, body, headers).status_code == 400
    # An actor that names no one is the activity's fault, not the signature's (401).
    for actor in ({"type": "Person"}, [alice.uri], None, "alice"):
        body, headers = alice.signed_post(INBOX, {**alice.activity(), "actor": actor})
        r = post(client, INBOX, body, headers)
        assert r.status_code == 400 and r.json()["code"] == "bad-activity", (actor, r.text)
    assert remote.gets == []
    assert count(client) == 0


def test_nul_characters_are_refused_with_400(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    act = alice.activity()
    act["id"] = act["id"] + "\x00"
    body, headers = alice.signed_post(INBOX, act)
    r = post(client, INBOX, body, headers)
    assert r.status_code == 400 and "NUL" in r.json()["detail"]
    assert count(client) == 0


def test_blocked_host_is_refused_before_any_fetch(client: TestClient, remote: FakeRemote) -> None:
    from node.outbox.status import set_blocked

    ctx = ctx_of(client)
    set_blocked(ctx.engine, "127.0.0.1", True)
    ctx.refresh_blocks()
    alice = remote.actor("alice")
    body, headers = alice.signed_post(INBOX, alice.activity())
    r = post(client, INBOX, body, headers)
    assert r.status_code == 403 and r.json()["code"] == "blocked"
    assert remote.gets == []
    assert count(client) == 0


def test_a_blocked_hosts_actor_relayed_by_another_server_is_refused_before_any_fetch(
        client: TestClient, remote: FakeRemote) -> None:
    """The block is on the actor's host (with its port, as the suite's servers share
    127.0.0.1); another server relays the actor's proven activity."""
    from node.outbox.status import set_blocked

    ctx = ctx_of(client)
    set_blocked(ctx.engine, remote.netloc, True)
    ctx.refresh_blocks()
    other = start_fake_remote()
    try:
        alice, relay = remote.actor("alice"), other.actor("relay")
        body, headers = relay.signed_post(INBOX, alice.prove(alice.activity()))
        r = post(client, INBOX, body, headers)
        assert r.status_code == 403 and r.json()["code"] == "blocked", r.text
        assert remote.gets == []
        assert count(client) == 0
    finally:
        other.close()


def test_a_blocked_hosts_keys_held_from_before_the_block_are_not_used(
        client: TestClient, remote: FakeRemote) -> None:
    """What processing checks (an announced object's author, a vote's signer) goes
    through the directory: a key it already holds must not outlive a block."""
    import asyncio

    from node.activitypub.directory import ActorFetchFailed
    from node.outbox.status import set_blocked

    ctx = ctx_of(client)
    alice = remote.actor("alice")
    key_id = alice.document()["publicKey"]["id"]
    assert asyncio.run(ctx.directory.key_for(key_id)).owner == alice.uri
    set_blocked(ctx.engine, remote.netloc, True)
    ctx.refresh_blocks()
    with pytest.raises(ActorFetchFailed, match="blocked"):
        asyncio.run(ctx.directory.key_for(key_id))
    with pytest.raises(ActorFetchFailed, match="blocked"):
        asyncio.run(ctx.directory.actor(alice.uri))


def test_rfc9421_signatures_are_accepted(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    for alg in ("rsa-v1_5-sha256", "rsa-pss-sha512", "ed25519"):
        body, headers = alice.signed_post(INBOX, alice.activity(), scheme="rfc9421", alg=alg)
        r = post(client, INBOX, body, headers)
        assert r.status_code == 202, (alg, r.text)
    assert count(client) == 3


def test_rfc9421_content_digest_mismatch_and_stale(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    act = alice.activity()
    body, headers = alice.signed_post(INBOX, act, scheme="rfc9421", alg="ed25519")
    r = post(client, INBOX, body.replace(b"hola", b"HOLA"), headers)
    assert r.status_code == 401 and "Content-Digest" in r.json()["detail"]
    body, headers = alice.signed_post(INBOX, act, scheme="rfc9421", alg="ed25519",
                                      now=time.time() - 13 * 3600)
    assert post(client, INBOX, body, headers).status_code == 401
    assert count(client) == 0


def test_key_rotation_refetches_once(client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    body, headers = alice.signed_post(INBOX, alice.activity())
    assert post(client, INBOX, body, headers).status_code == 202
    fetches = len(remote.gets)
    alice.rotate()
    body, headers = alice.signed_post(INBOX, alice.activity())
    assert post(client, INBOX, body, headers).status_code == 202
    assert len(remote.gets) == fetches + 1
    assert count(client) == 2


def test_unknown_activity_type_is_stored_and_acknowledged(client: TestClient,
                                                          remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    act = alice.activity(kind="ProposeSomethingNew")
    body, headers = alice.signed_post(INBOX, act)
    assert post(client, INBOX, body, headers).status_code == 202
    assert count(client) == 1
