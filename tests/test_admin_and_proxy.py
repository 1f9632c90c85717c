"""Facilitator endpoints, and correct behaviour behind a TLS-terminating proxy."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from starlette.testclient import TestClient

from node.app import create_app
from node.config import Settings, write_config_file
from tests.conftest import ctx_of
from tests.fakeremote import FakeRemote


def _with_token(node: Settings, token: str = "s3cret") -> Settings:
    write_config_file(node.data_dir, {"admin_token_sha256": hashlib.sha256(
        token.encode()).hexdigest()})
    from node.config import load_settings

    return load_settings(node.data_dir)


def test_admin_requires_the_token(node: Settings) -> None:
    settings = _with_token(node)
    with TestClient(create_app(settings, background=False), base_url=settings.url) as c:
        assert c.get("/api/v1/admin/federation").status_code == 401
        r = c.get("/api/v1/admin/federation", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        r = c.post("/api/v1/admin/hosts/bad.example/block",
                   headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        ok = {"Authorization": "Bearer s3cret"}
        status = c.get("/api/v1/admin/federation", headers=ok).json()
        assert status["delivery"] == {"queued": 0, "delivered": 0, "failed": 0}
        assert status["blocked_hosts"] == []
        assert c.post("/api/v1/admin/hosts/bad.example/block", headers=ok).status_code == 200
        assert c.get("/api/v1/admin/federation", headers=ok).json()["blocked_hosts"] == [
            "bad.example"]


def test_facilitator_can_expire_cached_keys(node: Settings, remote: FakeRemote) -> None:
    settings = _with_token(node)
    alice = remote.actor("alice")
    inbox = f"{settings.url}/actors/maizal/inbox"
    with TestClient(create_app(settings, background=False), base_url=settings.url) as c:
        body, headers = alice.signed_post(inbox, alice.activity())
        assert c.post(inbox, content=body, headers=headers).status_code == 202
        fetched = len(remote.gets)
        body, headers = alice.signed_post(inbox, alice.activity())
        assert c.post(inbox, content=body, headers=headers).status_code == 202
        assert len(remote.gets) == fetched  # cached
        r = c.post("/api/v1/admin/hosts/127.0.0.1/expire-keys",
                   headers={"Authorization": "Bearer s3cret"})
        assert r.json()["expired_actors"] == 1
        body, headers = alice.signed_post(inbox, alice.activity())
        assert c.post(inbox, content=body, headers=headers).status_code == 202
        assert len(remote.gets) == fetched + 1


def test_key_fetches_are_rate_limited_per_host(make_node: Callable[..., Settings],
                                               remote: FakeRemote) -> None:
    node = make_node(key_refetch_per_host_per_minute=2)
    remote.down = True  # failing fetches are what the budget counts
    inbox = f"{node.url}/actors/maizal/inbox"
    with TestClient(create_app(node, background=False), base_url=node.url) as c:
        codes = []
        for name in ("a", "b", "c"):
            who = remote.actor(name)
            body, headers = who.signed_post(inbox, who.activity())
            r = c.post(inbox, content=body, headers=headers)
            codes.append(r.status_code)
        assert codes == [503, 503, 429]
        assert "too many key fetches" in r.json()["detail"]
        assert int(r.headers["Retry-After"]) >= 1
        assert len(remote.gets) == 2


def test_signed_request_behind_proxy(make_node: Callable[..., Settings],
                                     remote: FakeRemote) -> None:
    # The node's public name is https://comuna.example; the proxy talks to it over
    # plain HTTP with another Host and says who the client asked for.
    node = make_node(url="https://comuna.example")
    alice = remote.actor("alice")
    public_inbox = "https://comuna.example/actors/maizal/inbox"
    with TestClient(create_app(node, background=False), base_url="http://10.0.0.5:8000",
                    client=("127.0.0.1", 5000)) as c:
        body, headers = alice.signed_post(public_inbox, alice.activity())
        headers.update({"X-Forwarded-Host": "comuna.example", "X-Forwarded-Proto": "https"})
        r = c.post("/actors/maizal/inbox", content=body, headers=headers)
        assert r.status_code == 202, r.text
        body, headers = alice.signed_post(public_inbox, alice.activity(), scheme="rfc9421",
                                          alg="ed25519")
        headers["Forwarded"] = 'for=192.0.2.1;host=comuna.example;proto=https'
        assert c.post("/actors/maizal/inbox", content=body, headers=headers).status_code == 202


def test_forwarded_headers_ignored_from_untrusted_peers(make_node: Callable[..., Settings],
                                                        remote: FakeRemote) -> None:
    node = make_node(url="https://comuna.example")
    alice = remote.actor("alice")
    public_inbox = "https://comuna.example/actors/maizal/inbox"
    with TestClient(create_app(node, background=False), base_url="http://10.0.0.5:8000",
                    client=("203.0.113.9", 5000)) as c:
        body, headers = alice.signed_post(public_inbox, alice.activity())
        headers.update({"X-Forwarded-Host": "comuna.example", "X-Forwarded-Proto": "https"})
        r = c.post("/actors/maizal/inbox", content=body, headers=headers)
        assert r.status_code == 401
        assert ctx_of(c) is not None
