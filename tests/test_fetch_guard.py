"""Fetching remote documents: address guard at connect time, redirects, size cap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from node.activitypub.fetch import Fetcher, FetchError, make_client
from node.activitypub.netguard import address_allowed
from tests.fakeremote import FakeRemote, start_fake_remote


def fetch(url: str, allow_private: bool, max_bytes: int = 1_000_000, redirects: int = 3,
          same_host: bool = False, blocked: Callable[[str], bool] | None = None
          ) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        client = make_client(allow_private, timeout=5)
        try:
            return await Fetcher(client, max_bytes, redirects, blocked=blocked).get_json(
                url, same_host=same_host)
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_address_classification() -> None:
    for ip in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.4", "169.254.169.254",
               "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "100.64.0.1"):
        assert not address_allowed(ip, allow_private=False), ip
    for ip in ("93.184.216.34", "2606:2800:220:1::1"):
        assert address_allowed(ip, allow_private=False), ip
    assert address_allowed("127.0.0.1", allow_private=True)
    assert not address_allowed("0.0.0.0", allow_private=True)
    assert not address_allowed("224.0.0.1", allow_private=True)


# One forbidden IPv4 address of each kind, and one public one.
FORBIDDEN_V4 = ("127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.4", "169.254.169.254",
                "100.64.0.1", "0.0.0.0")
PUBLIC_V4 = "93.184.216.34"


def _v4_hex(ip: str) -> str:
    a, b, c, d = (int(x) for x in ip.split("."))
    return f"{a << 8 | b:x}:{c << 8 | d:x}"


@pytest.mark.parametrize("form", [
    pytest.param(lambda ip: f"::ffff:{ip}", id="ipv4-mapped"),
    pytest.param(lambda ip: f"::{ip}", id="ipv4-compatible"),
    pytest.param(lambda ip: f"::ffff:0:{ip}", id="siit-translated"),
    pytest.param(lambda ip: f"64:ff9b::{ip}", id="nat64"),
    pytest.param(lambda ip: f"2002:{_v4_hex(ip)}::1", id="6to4"),
])
def test_ipv6_forms_of_forbidden_ipv4_are_refused(form: Callable[[str], str]) -> None:
    for ip in FORBIDDEN_V4:
        assert not address_allowed(form(ip), allow_private=False), form(ip)
    # The same form of a public address is an ordinary public peer.
    assert address_allowed(form(PUBLIC_V4), allow_private=False), form(PUBLIC_V4)
    # An operator who allows private networks allows them in every form ...
    assert address_allowed(form("10.1.2.3"), allow_private=True), form("10.1.2.3")
    # ... but the unspecified and multicast addresses stay refused in every form.
    assert not address_allowed(form("0.0.0.0"), allow_private=True), form("0.0.0.0")
    assert not address_allowed(form("224.0.0.1"), allow_private=True), form("224.0.0.1")


def test_local_use_nat64_prefix_is_not_public() -> None:
    assert not address_allowed("64:ff9b:1::a01:203", allow_private=False)
    assert address_allowed("64:ff9b:1::a01:203", allow_private=True)


def test_loopback_refused_by_default(remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    with pytest.raises(FetchError, match="non-public"):
        fetch(alice.uri, allow_private=False)
    assert remote.gets == []  # refused before connecting


def test_localhost_name_refused_by_default(remote: FakeRemote) -> None:
    url = f"http://localhost:{remote.httpd.server_address[1]}/users/alice"
    remote.actor("alice")
    with pytest.raises(FetchError, match="non-public"):
        fetch(url, allow_private=False)
    assert remote.gets == []


def test_loopback_allowed_when_configured(remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    assert fetch(alice.uri, allow_private=True)["id"] == alice.uri


def test_redirects_are_followed_and_limited(remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    remote.redirects["/r1"] = "/r2"
    remote.redirects["/r2"] = f"/users/{alice.name}"
    assert fetch(f"{remote.base}/r1", allow_private=True)["id"] == alice.uri
    for i in range(5):
        remote.redirects[f"/loop{i}"] = f"/loop{i + 1}"
    with pytest.raises(FetchError, match="redirects"):
        fetch(f"{remote.base}/loop0", allow_private=True)


def test_redirect_target_is_checked_again(remote: FakeRemote,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Treat 127.0.0.1 as public and 127.0.0.2 as internal: the first hop passes the guard,
    # the redirect's target must be refused even though the first URL was fine.
    from node.activitypub import netguard

    monkeypatch.setattr(netguard, "address_allowed", lambda ip, allow: ip == "127.0.0.1")
    port = remote.httpd.server_address[1]
    remote.actor("a")
    remote.redirects["/hop"] = f"http://127.0.0.2:{port}/users/a"
    remote.redirects["/fine"] = "/users/a"
    assert fetch(f"{remote.base}/fine", allow_private=False)["type"] == "Person"
    with pytest.raises(FetchError, match="non-public"):
        fetch(f"{remote.base}/hop", allow_private=False)
    assert "/users/a" in remote.gets and remote.gets.count("/hop") == 1


def test_response_size_is_capped(remote: FakeRemote) -> None:
    remote.docs["/big"] = b'{"id": "' + b"x" * 5000 + b'"}'
    with pytest.raises(FetchError, match="larger"):
        fetch(f"{remote.base}/big", allow_private=True, max_bytes=1000)


def test_non_json_and_errors(remote: FakeRemote) -> None:
    remote.docs["/text"] = b"<html>"
    with pytest.raises(FetchError, match="not JSON"):
        fetch(f"{remote.base}/text", allow_private=True)
    with pytest.raises(FetchError, match="404"):
        fetch(f"{remote.base}/missing", allow_private=True)
    with pytest.raises(FetchError, match="http"):
        fetch("file:///etc/passwd", allow_private=True)


def test_a_document_about_a_url_comes_from_its_host(remote: FakeRemote) -> None:
    """An open redirect on one host must not let another host's document, naming the
    first host's URL as its id, stand for it (so that its key signs for that host)."""
    other = start_fake_remote()
    try:
        mallory = other.actor("m")
        claimed = f"{remote.base}/go"
        other.docs["/doc"] = {**mallory.document(), "id": claimed}
        remote.redirects["/go"] = f"{other.base}/doc"
        remote.redirects["/here"] = "/go"
        with pytest.raises(FetchError, match="another host"):
            fetch(claimed, allow_private=True, same_host=True)
        with pytest.raises(FetchError, match="another host"):
            fetch(f"{remote.base}/here", allow_private=True, same_host=True)
        assert other.gets == []
        # Where a redirect elsewhere is normal (WebFinger), it is followed.
        assert fetch(claimed, allow_private=True)["id"] == claimed
    finally:
        other.close()


def test_nothing_is_fetched_from_a_blocked_host(remote: FakeRemote) -> None:
    other = start_fake_remote()
    try:
        other.actor("m")
        remote.redirects["/away"] = f"{other.base}/users/m"
        with pytest.raises(FetchError, match="blocked"):
            fetch(f"{remote.base}/away", allow_private=True,
                  blocked=lambda host: host == other.netloc)
        with pytest.raises(FetchError, match="blocked"):
            fetch(f"{other.base}/users/m", allow_private=True,
                  blocked=lambda host: host == other.netloc)
        assert other.gets == []
    finally:
        other.close()


def test_an_actor_behind_a_redirect_to_another_host_signs_nothing(
        client: TestClient, remote: FakeRemote) -> None:
    """The key id names an actor on one host whose URL redirects to another host, which
    serves a document with that id and its own key: the inbox must not take it."""
    from sqlmodel import Session, select

    from node.activitypub.httpsig.sign import sign_cavage
    from node.models import InboxItem, RemoteActor
    from tests.conftest import NODE_URL, ctx_of

    inbox = f"{NODE_URL}/actors/maizal/inbox"
    other = start_fake_remote()
    try:
        mallory = other.actor("m")
        claimed = f"{remote.base}/go"
        real = mallory.document()
        other.docs["/doc"] = {**real, "id": claimed,
                              "publicKey": {**real["publicKey"], "id": f"{claimed}#k",
                                            "owner": claimed}}
        remote.redirects["/go"] = f"{other.base}/doc"
        act = {"@context": "https://www.w3.org/ns/activitystreams",
               "id": f"{remote.base}/activities/forged-1", "type": "Create", "actor": claimed,
               "object": {"id": f"{remote.base}/notes/forged-1", "type": "Note",
                          "attributedTo": claimed, "content": "soy otro"}}
        body = json.dumps(act).encode()
        headers = sign_cavage("POST", inbox, f"{claimed}#k", mallory.rsa_key, body=body,
                              headers={"Content-Type": "application/activity+json"})
        headers.pop("Host", None)
        r = client.post(inbox, content=body, headers=headers)
        assert r.status_code == 401, r.text
        with Session(ctx_of(client).engine) as s:
            assert s.exec(select(InboxItem)).all() == []
            assert s.exec(select(RemoteActor).where(RemoteActor.uri == claimed)).all() == []
    finally:
        other.close()
