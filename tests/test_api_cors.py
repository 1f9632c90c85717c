"""A custom client in a browser on another origin can use the JSON API: it answered no
CORS preflight (405) and sent no Access-Control-Allow-Origin, so a dashboard served from
elsewhere could not call it at all. Only the JSON API is opened, and never with
credentials (it takes only bearer tokens)."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.apiclient import Headers, people  # noqa: F401  (fixture)

ORIGIN = {"Origin": "https://radio.example"}


def test_a_browser_client_on_another_origin_may_call_the_api(
        client: TestClient, people: dict[str, Headers]) -> None:  # noqa: F811
    pre = client.options("/api/v1/bodies/maizal/proposals", headers={
        **ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in pre.headers
    r = client.post("/api/v1/bodies/maizal/proposals", headers={**ORIGIN, **people["ana"]},
                    json={"title": "Desde la radio", "text": "Un texto."})
    assert r.status_code == 201, r.text
    assert r.headers["access-control-allow-origin"] == "*"
    assert "ETag" in r.headers["access-control-expose-headers"]
    assert "access-control-allow-credentials" not in r.headers
    # Refusals too, so the client can read why.
    r = client.get("/api/v1/me", headers=ORIGIN)
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "*"
    assert "WWW-Authenticate" in r.headers["access-control-expose-headers"]


def test_only_the_json_api_is_opened_to_other_origins(client: TestClient) -> None:
    for path in ("/login", "/b/maizal", "/actors/maizal/inbox", "/api/v1/admin/federation"):
        r = client.get(path, headers=ORIGIN)
        assert "access-control-allow-origin" not in r.headers, path
    r = client.options("/login", headers={**ORIGIN, "Access-Control-Request-Method": "POST"})
    assert r.status_code != 204 and "access-control-allow-origin" not in r.headers
    # Without an Origin (not a browser's cross-origin call) nothing changes.
    assert "access-control-allow-origin" not in client.get("/api/v1/me").headers
