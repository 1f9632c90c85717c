"""Small holes at the node's boundary: JSON nested too deep, requests signed for another
server, and pages without a content security policy. A refused request stores nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from node.api.jsondepth import MAX_DEPTH, too_deep
from node.app import create_app
from node.config import Settings
from node.models import InboxItem
from tests.conftest import NODE_URL, ctx_of
from tests.fakeremote import FakeRemote

INBOX = f"{NODE_URL}/actors/maizal/inbox"


def stored(client: TestClient) -> int:
    with Session(ctx_of(client).engine) as s:
        return s.exec(select(func.count()).select_from(InboxItem)).one()


def nested(depth: int) -> object:
    doc: object = "fondo"
    for i in range(depth):
        doc = [doc] if i % 2 else {"x": doc}
    return doc


def posted_for(url: str, headers: dict[str, str]) -> dict[str, str]:
    """The headers a sender put on the wire for `url`, its Host included (the fake remote
    leaves Host to the client)."""
    return {**headers, "Host": urlsplit(url).netloc}


# --- JSON nesting ------------------------------------------------------------------

def test_depth_check_counts_structure_not_strings() -> None:
    assert not too_deep(json.dumps(nested(MAX_DEPTH)).encode())
    assert too_deep(json.dumps(nested(MAX_DEPTH + 1)).encode())
    # Brackets inside strings (escaped quotes too) are text, not nesting.
    text = json.dumps({"content": '\\"[[[{{{' * 100, "tags": ["]" * 70]}).encode()
    assert not too_deep(text)


def test_inbox_refuses_very_deep_json_with_400(client: TestClient) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    r = client.post(INBOX, content=body, headers={"Content-Type": "application/activity+json"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "too-deep"
    assert stored(client) == 0


def test_inbox_refuses_a_signed_activity_nested_past_the_limit(client: TestClient,
                                                               remote: FakeRemote) -> None:
    # Within what the decoder can parse, but past the limit: refused before the signature.
    alice = remote.actor("alice")
    act = alice.activity(obj=nested(MAX_DEPTH + 5))
    body, headers = alice.signed_post(INBOX, act)
    r = client.post(INBOX, content=body, headers=headers)
    assert r.status_code == 400 and r.json()["code"] == "too-deep"
    # The same activity nested to the limit is an ordinary activity.
    act = alice.activity(obj=nested(MAX_DEPTH - 2))
    body, headers = alice.signed_post(INBOX, act)
    assert client.post(INBOX, content=body, headers=headers).status_code == 202
    assert stored(client) == 1


def test_inbox_refuses_json_that_is_not_utf8(client: TestClient, remote: FakeRemote) -> None:
    # json.loads takes UTF-16 bytes; the store could not decode them (it answered 500).
    alice = remote.actor("alice")
    body, headers = alice.signed_post(INBOX, None,
                                      body=json.dumps(alice.activity()).encode("utf-16"))
    r = client.post(INBOX, content=body, headers=headers)
    assert r.status_code == 400 and r.json()["code"] == "bad-json"
    assert stored(client) == 0


def test_api_refuses_deep_json_with_400_too_deep(client: TestClient) -> None:
    for body in (b"[" * 100_000 + b"]" * 100_000,
                 json.dumps({"handle": "x", "password": "y",
                             "extra": nested(MAX_DEPTH + 1)}).encode()):
        r = client.post("/api/v1/tokens", content=body,
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "too-deep"
    # A body within the limit reaches the API as before (here: wrong credentials).
    r = client.post("/api/v1/tokens", json={"handle": "x", "password": "y"})
    assert r.status_code != 400 and r.json()["code"] != "too-deep"


# --- the signed Host is ours -------------------------------------------------------

def test_request_signed_for_another_server_is_refused(client: TestClient,
                                                      remote: FakeRemote) -> None:
    # A request validly signed for other.test, replayed here exactly as it was sent
    # there (its own Host). Both signature schemes.
    alice = remote.actor("alice")
    elsewhere = "http://other.test/actors/maizal/inbox"
    for scheme, alg in (("cavage", ""), ("rfc9421", "ed25519")):
        body, headers = alice.signed_post(elsewhere, alice.activity(), scheme=scheme, alg=alg)
        r = client.post(INBOX, content=body, headers=posted_for(elsewhere, headers))
        assert r.status_code == 401, (scheme, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "wrong-authority", r.json()
    assert stored(client) == 0
    assert remote.gets == []  # refused before any key was fetched


def test_our_authority_with_its_default_port_is_ours(client: TestClient,
                                                     remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    with_port = "http://node.test:80/actors/maizal/inbox"
    body, headers = alice.signed_post(with_port, alice.activity())
    r = client.post(INBOX, content=body, headers=posted_for(with_port, headers))
    assert r.status_code == 202, r.text
    other_port = "http://node.test:8080/actors/maizal/inbox"
    body, headers = alice.signed_post(other_port, alice.activity())
    r = client.post(INBOX, content=body, headers=posted_for(other_port, headers))
    assert r.status_code == 401 and r.json()["code"] == "wrong-authority"
    assert stored(client) == 1


def test_behind_a_proxy_the_forwarded_host_must_be_ours(make_node: Callable[..., Settings],
                                                        remote: FakeRemote) -> None:
    node = make_node(url="https://comuna.example")
    alice = remote.actor("alice")
    other = "https://other.example/actors/maizal/inbox"
    with TestClient(create_app(node, background=False), base_url="http://10.0.0.5:8000",
                    client=("127.0.0.1", 5000)) as c:
        body, headers = alice.signed_post(other, alice.activity())
        headers.update({"X-Forwarded-Host": "other.example", "X-Forwarded-Proto": "https"})
        r = c.post("/actors/maizal/inbox", content=body, headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "wrong-authority", r.text
        assert stored(c) == 0


# --- pages carry a content security policy ----------------------------------------

def test_pages_forbid_scripts_and_framing(client: TestClient) -> None:
    for path, headers in (("/", {}), ("/login", {}),
                          ("/actors/maizal", {"Accept": "text/html"})):
        r = client.get(path, headers=headers)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        csp = {d.split()[0]: d.split()[1:] for d in
               r.headers["content-security-policy"].split("; ")}
        assert csp["script-src"] == ["'none'"], path
        assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
        assert csp["form-action"] == ["'self'"] and csp["default-src"] == ["'self'"]
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"


def test_templates_need_no_script() -> None:
    # The policy forbids every script; a template that used one would silently break.
    import re
    from pathlib import Path

    import node.web

    templates = Path(node.web.__file__).parent / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script|\son[a-z]+\s*=|javascript:", text, re.I), template.name
