"""What a client written from the RFCs expects of the node's HTTP, from an
interoperability review: optional bodies, 401 challenges, language variants, JSON
and media-type refusals, WebFinger's CORS and HEAD."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.testclient import TestClient

from tests.apiclient import Headers, people  # noqa: F401  (fixture)
from tests.conftest import NODE_URL

ACTOR = f"{NODE_URL}/actors/maizal"
PROBLEM = "application/problem+json"


def _app(client: TestClient) -> Any:
    app = client.app
    while not hasattr(app, "routes"):
        app = app.app  # type: ignore[attr-defined]
    return app


# --- a body whose every field has a default may be left out -----------------------


def test_open_vote_and_invite_without_a_body(
        client: TestClient, people: dict[str, Headers]) -> None:  # noqa: F811
    h = people
    r = client.post("/api/v1/bodies/maizal/invitations", headers=h["facil"])
    assert r.status_code == 201, r.text
    assert r.json()["token"]
    r = client.post("/api/v1/bodies/maizal/proposals", headers=h["ana"],
                    json={"title": "Pozo", "text": "Cavar un pozo."})
    pid = r.json()["id"]
    assert client.post(f"/api/v1/proposals/{pid}/deliberation",
                       headers=h["ana"]).status_code == 200
    r = client.post(f"/api/v1/proposals/{pid}/vote", headers=h["facil"])
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "vote" and r.json()["closes_at"]


def _fill(path: str) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        return "maizal" if name in ("handle", "parent") else \
            "1" if name.endswith("_id") else "x"
    return re.sub(r"\{([a-z_]+)\}", value, path)


def _all_defaults(route: APIRoute) -> bool:
    model = route.body_field.field_info.annotation if route.body_field else None
    return isinstance(model, type) and issubclass(model, BaseModel) and not any(
        f.is_required() for f in model.model_fields.values())


def test_no_route_requires_a_body_of_defaults(
        client: TestClient, people: dict[str, Headers]) -> None:  # noqa: F811
    """Every route of the app whose body has no required field, called with no body:
    never a 422 for the missing body (a 404 or 409 for the made-up ids is fine)."""
    routes = [r for r in _app(client).routes if isinstance(r, APIRoute) and _all_defaults(r)]
    assert len(routes) >= 10  # invitations, statute, votes, send-up, recall, cancel…
    wrong = []
    for route in routes:
        for method in route.methods or set():
            r = client.request(method, _fill(route.path), headers=people["facil"])
            missing = r.status_code == 422 and any(
                e["loc"] == ["body"] for e in r.json().get("errors", []))
            if missing or r.status_code >= 500:
                wrong.append(f"{method} {route.path}: {r.status_code} {r.text[:100]}")
    assert not wrong


# --- 401 says how to authenticate ---------------------------------------------------


def test_every_401_carries_a_challenge(
        client: TestClient, people: dict[str, Headers]) -> None:  # noqa: F811
    answers = {
        "no token": client.get("/api/v1/me"),
        "not bearer": client.get("/api/v1/me", headers={"Authorization": "Basic eDp5"}),
        "bad token": client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}),
        "bad login": client.post("/api/v1/tokens",
                                 json={"username": "ana", "password": "not the one!"}),
        "admin": client.get("/api/v1/admin/federation", headers=people["ana"]),
        "stream": client.get("/api/v1/events/stream"),
    }
    for what, r in answers.items():
        assert r.status_code == 401, what
        challenge = r.headers.get("www-authenticate", "")
        assert challenge.startswith('Bearer realm="comuna"'), (what, challenge)
    assert 'error="invalid_token"' in answers["bad token"].headers["www-authenticate"]


def test_inbox_401_asks_for_a_signature(client: TestClient) -> None:
    r = client.post("/actors/maizal/inbox",
                    headers={"Content-Type": "application/activity+json"},
                    content=b'{"id": "https://social.example/1", "type": "Follow",'
                            b' "actor": "https://social.example/users/a",'
                            b' "object": "' + ACTOR.encode() + b'"}')
    assert r.status_code == 401 and r.json()["code"] == "bad-signature"
    assert r.headers["www-authenticate"].startswith('Signature realm="comuna"')


# --- the language of a refusal is a variant, whichever it is ------------------------


def test_problem_language_is_declared_and_varied(client: TestClient) -> None:
    for asked, lang in (("", "en"), ("en", "en"), ("es", "es"), ("fr, es;q=0.5", "es")):
        r = client.get("/api/v1/bodies/nobody", headers={"Accept-Language": asked})
        assert r.status_code == 404
        assert r.headers["content-language"] == lang, asked
        assert "accept-language" in r.headers["vary"].lower(), asked
    # Refusals made before any route too.
    r = client.get("/api/v1/bodies?x=%00", headers={"Accept-Language": "es"})
    assert r.status_code == 400 and r.headers["content-language"] == "es"
    assert "accept-language" in r.headers["vary"].lower()


# --- a body that is not JSON, or not sent as JSON -----------------------------------


def test_malformed_json_is_bad_json(client: TestClient) -> None:
    r = client.post("/api/v1/tokens", content=b'{"username": "ana",',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "bad-json" and r.json()["title"] == "Bad Request"
    assert r.json()["detail"].startswith("the body is not valid JSON")
    r = client.post("/api/v1/tokens", content=b"{nope",
                    headers={"Content-Type": "application/json", "Accept-Language": "es"})
    assert r.json()["code"] == "bad-json" and r.json()["detail"] == \
        "Lo enviado no es JSON válido; revise su forma."
    # Not UTF-8 text.
    r = client.post("/api/v1/tokens", content=b'{"username": "\xff"}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "bad-json"


def test_json_without_its_content_type_is_415(client: TestClient) -> None:
    body = b'{"username": "ana", "password": "una-contrase\xc3\xb1a-larga"}'
    for ctype in (None, "text/plain", "application/x-www-form-urlencoded"):
        headers = {"Content-Type": ctype} if ctype else {}
        r = client.post("/api/v1/tokens", content=body, headers=headers)
        assert r.status_code == 415, (ctype, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["code"] == "unsupported-media-type"
        assert r.json()["title"] == "Unsupported Media Type"


def test_422_is_unprocessable_content_as_the_docs_show(client: TestClient) -> None:
    r = client.post("/api/v1/tokens", json={"username": "ana"})
    assert r.status_code == 422 and r.json()["code"] == "invalid-request"
    assert r.json()["title"] == "Unprocessable Content"  # RFC 9110 §15.5.21
    with open("docs/api.md", encoding="utf-8") as f:
        assert '"title": "Unprocessable Content", "status": 422' in f.read()


# --- WebFinger: CORS on every answer, HEAD, preflight, the profile address ---------


def test_webfinger_cors_on_errors_and_preflight(client: TestClient) -> None:
    for params in ({}, {"resource": "acct:nobody@node.test"}):
        r = client.get("/.well-known/webfinger", params=params)
        assert r.status_code in (400, 404)
        assert r.headers["access-control-allow-origin"] == "*", params
    r = client.options("/.well-known/webfinger", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "accept"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "GET" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "accept"
    ok = client.get("/.well-known/webfinger", params={"resource": "acct:maizal@node.test"})
    assert ok.headers["access-control-allow-origin"] == "*"  # once, not twice
    assert ok.headers.get_list("access-control-allow-origin") == ["*"]


def test_head_of_discovery_and_actor(client: TestClient) -> None:
    for path, params, headers in (
            ("/.well-known/webfinger", {"resource": "acct:maizal@node.test"}, {}),
            ("/.well-known/nodeinfo", {}, {}),
            ("/nodeinfo/2.1", {}, {}),
            ("/actors/maizal", {}, {"Accept": "application/activity+json"}),
            ("/@maizal", {}, {"Accept": "application/activity+json"})):
        got = client.get(path, params=params, headers=headers)
        head = client.head(path, params=params, headers=headers)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
    # An address with no GET keeps its 405.
    assert client.head("/actors/maizal/inbox").status_code == 405


def test_webfinger_takes_the_profile_address_and_a_leading_at(client: TestClient) -> None:
    want = client.get("/.well-known/webfinger",
                      params={"resource": "acct:maizal@node.test"}).json()
    for resource in (f"{NODE_URL}/@maizal", ACTOR, "acct:@maizal@node.test"):
        r = client.get("/.well-known/webfinger", params={"resource": resource})
        assert r.status_code == 200, resource
        assert r.json() == want, resource
    r = client.get("/.well-known/webfinger", params={"resource": f"{NODE_URL}/@nobody"})
    assert r.status_code == 404
