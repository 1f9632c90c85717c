"""The JSON API end to end: join, log in, propose, amend, vote, close, decide; errors
as problem+json; ETags; cursor pagination; who may do what."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session
from starlette.testclient import TestClient

from node.config import Settings
from node.models import Invitation, Proposal
from node.models.base import utcnow
from tests.apiclient import (  # noqa: F401  (contract: every answer checked against OpenAPI)
    PASSWORD,
    Headers,
    cli_invite,
    contract,
    join,
    people,
)
from tests.conftest import ctx_of
from tests.helpers import stored


def test_whole_flow_through_the_api(
        client: TestClient, people: dict[str, Headers]) -> None:  # noqa: F811
    h = people
    r = client.post("/api/v1/bodies/maizal/proposals", headers=h["ana"],
                    json={"title": "Huerto comunal", "text": "Sembrar en el terreno baldío."})
    assert r.status_code == 201
    pid = r.json()["id"]
    assert r.json()["affects"] == ["http://node.test/actors/maizal"]
    assert client.post(f"/api/v1/proposals/{pid}/deliberation", headers=h["ana"]).status_code \
        == 200
    assert client.post(f"/api/v1/proposals/{pid}/comments", headers=h["beto"],
                       json={"text": "¿Y el agua?"}).status_code == 201
    r = client.post(f"/api/v1/proposals/{pid}/amendments", headers=h["beto"],
                    json={"title": "Huerto comunal", "text": "Sembrar y poner riego por goteo."})
    aid = r.json()["id"]
    r = client.post(f"/api/v1/proposals/{pid}/amendments/{aid}/decision", headers=h["ana"],
                    json={"accept": True})
    assert r.json()["current_version"] == 2
    diff = client.get(f"/api/v1/proposals/{pid}/diff?a=1&b=2").json()["diff"]
    assert "+Sembrar y poner riego por goteo." in diff
    closes = (utcnow() + timedelta(hours=1)).isoformat()
    assert client.post(f"/api/v1/proposals/{pid}/vote", headers=h["facil"],
                       json={"closes_at": closes}).status_code == 200
    for who, choice in (("ana", "for"), ("beto", "for"), ("caro", "against")):
        r = client.put(f"/api/v1/proposals/{pid}/ballot", headers=h[who],
                       json={"version": 2, "choice": choice})
        assert r.status_code == 200, r.text
    r = client.put(f"/api/v1/proposals/{pid}/ballot", headers=h["otro"],
                   json={"version": 2, "choice": "against"})
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    r = client.post(f"/api/v1/proposals/{pid}/close", headers=h["facil"])
    assert r.status_code == 409 and r.json()["code"] == "not-due"
    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        p = stored(s, Proposal, pid)
        p.closes_at = utcnow() - timedelta(seconds=1)
        s.add(p)
        s.commit()
    r = client.post(f"/api/v1/proposals/{pid}/close", headers=h["facil"])
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["outcome"] == "adopted" and d["version"] == 2
    assert d["record"]["counts"]["for"] == 2 and d["record"]["counts"]["against"] == 1
    assert client.get(f"/api/v1/decisions/{d['id']}").json()["outcome"] == "adopted"
    assert client.post(f"/api/v1/decisions/{d['id']}/execution", headers=h["facil"],
                       json={"state": "carried_out", "notes": "Sembrado"}).status_code == 200
    assert client.post(f"/api/v1/decisions/{d['id']}/evaluations", headers=h["beto"],
                       json={"score": 5}).status_code == 201
    part = client.get("/api/v1/bodies/maizal/participation").json()["items"]
    assert part[0]["participants"] == 3 and part[0]["electorate"] == 4
    # The decision went to the body's public outbox for its followers (and Mastodon).
    outbox = client.get("/actors/maizal/outbox?page=true").json()
    assert outbox["orderedItems"][0]["object"]["outcome"] == "adopted"


def test_problem_details_etags_and_pagination(
        client: TestClient, people: dict[str, Headers]) -> None:  # noqa: F811
    h = people
    r = client.post("/api/v1/bodies/maizal/proposals", headers=h["ana"], json={"title": ""})
    assert r.status_code == 422 and r.json()["code"] == "invalid-request"
    assert r.headers["content-type"] == "application/problem+json"
    for i in range(5):
        client.post("/api/v1/bodies/maizal/proposals", headers=h["ana"],
                    json={"title": f"P{i}", "text": "x"})
    first = client.get("/api/v1/bodies/maizal/proposals?limit=2")
    assert [p["title"] for p in first.json()["items"]] == ["P0", "P1"]
    nxt = client.get(f"/api/v1/bodies/maizal/proposals?limit=2&cursor="
                     f"{first.json()['next_cursor']}").json()
    assert [p["title"] for p in nxt["items"]] == ["P2", "P3"]
    assert client.get("/api/v1/bodies/maizal/proposals?cursor=zzz").json()["code"] == \
        "bad-cursor"
    assert client.get("/api/v1/bodies/maizal/proposals?state=nonsense").status_code == 422
    assert len(client.get("/api/v1/bodies/maizal/proposals?state=draft").json()["items"]) == 5
    tag = first.headers["etag"]
    again = client.get("/api/v1/bodies/maizal/proposals?limit=2",
                       headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert client.get("/api/v1/proposals/9999").json()["code"] == "not-found"
    assert client.get("/api/openapi.json").json()["openapi"].startswith("3.")
    assert client.get("/api/docs").status_code == 200


def test_revoked_token_and_expired_invitation(
        node: Settings, client: TestClient, people: dict[str, Headers],  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    h = people
    tokens = client.get("/api/v1/tokens", headers=h["ana"]).json()["items"]
    assert client.delete(f"/api/v1/tokens/{tokens[0]['id']}", headers=h["ana"]).status_code \
        == 204
    r = client.post("/api/v1/bodies/maizal/proposals", headers=h["ana"],
                    json={"title": "t", "text": "x"})
    assert r.status_code == 401 and r.json()["code"] == "bad-token"
    raw = cli_invite(node, capsys, role="member")
    with Session(ctx_of(client).engine) as s:
        s.execute(text("update invitation set expires_at = :t"),
                  {"t": utcnow() - timedelta(days=1)})
        s.commit()
    r = client.post(f"/api/v1/invitations/{raw}/accept",
                    json={"username": "tarde", "password": PASSWORD})
    assert r.status_code == 410 and r.json()["code"] == "invitation-expired"
    # Single use: a used invitation cannot create a second account.
    r = client.post("/api/v1/bodies/maizal/invitations", headers=h["facil"], json={})
    tok = r.json()["token"]
    join(client, tok, "una")
    r = client.post(f"/api/v1/invitations/{tok}/accept",
                    json={"username": "dos", "password": PASSWORD})
    assert r.status_code == 410 and r.json()["code"] == "invitation-used"
    with Session(ctx_of(client).engine) as s:
        assert s.execute(text("select count(*) from member where username in "
                              "('tarde', 'dos')")).scalar() == 0
        assert s.get(Invitation, 1) is not None


def test_login_is_rate_limited(
        client: TestClient, people: dict[str, Headers]) -> None:  # noqa: F811
    for _ in range(5):
        r = client.post("/api/v1/tokens", json={"username": "ana", "password": "wrong-password"})
        assert r.status_code == 401
    r = client.post("/api/v1/tokens", json={"username": "ana", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["code"] == "too-many-attempts"
    # When to try again, where clients and proxies read it.
    assert r.headers["retry-after"] == str(r.json()["retry_after"])


def _state(engine: Engine) -> tuple[Any, ...]:
    """Everything an action could change, to prove a refused one changed nothing."""
    with Session(engine) as s:
        return (
            *(s.execute(text(f"select count(*) from {t}")).scalar()
              for t in ("audit_entry", "proposal", "comment", "invitation", "meeting", "vote",
                        "decision", "amendment", "amendment_vote", "proposal_version")),
            s.execute(text("select statute from local_actor where handle = 'maizal'")).scalar(),
        )


MATRIX = [
    # (method, path template, json, allowed for)
    ("post", "/api/v1/bodies/maizal/proposals", {"title": "t", "text": "x"},
     {"ana", "facil"}),
    ("post", "/api/v1/bodies/maizal/invitations", {}, {"facil"}),
    ("put", "/api/v1/bodies/maizal/statute", {"rule": "consent"}, {"facil"}),
    ("post", "/api/v1/proposals/{pid}/vote", {}, {"facil"}),
    ("post", "/api/v1/proposals/{pid}/comments", {"text": "hola"}, {"ana", "facil"}),
    ("post", "/api/v1/proposals/{pid}/amendments", {"title": "t", "text": "y"},
     {"ana", "facil"}),
    ("post", "/api/v1/proposals/{pid}/amendments/{aid}/vote", {}, {"facil"}),
    # beto wrote the proposal: ana may not decide on amendments to it, a facilitator may.
    ("post", "/api/v1/proposals/{pid}/amendments/{aid}/decision", {"accept": True},
     {"facil"}),
    ("post", "/api/v1/bodies/maizal/meetings",
     {"held_at": "2026-11-01T10:00:00Z", "attendance": 3, "families": 2}, {"facil"}),
]


@pytest.mark.parametrize("method,path,body,allowed", MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_api_authorization_matrix(
        client: TestClient, people: dict[str, Headers], method: str, path: str,  # noqa: F811
        body: dict[str, Any] | None, allowed: set[str]) -> None:
    h = dict(people)
    h["anonymous"] = {}
    r = client.post("/api/v1/bodies/maizal/proposals", headers=h["beto"],
                    json={"title": "base", "text": "x"})
    pid = r.json()["id"]
    client.post(f"/api/v1/proposals/{pid}/deliberation", headers=h["beto"])
    aid = client.post(f"/api/v1/proposals/{pid}/amendments", headers=h["beto"],
                      json={"title": "base", "text": "z"}).json()["id"]
    url = path.format(pid=pid, aid=aid)
    engine = ctx_of(client).engine
    for who in ("anonymous", "otro", "ana", "facil"):
        before = _state(engine)
        r = getattr(client, method)(url, headers=h[who], json=body)
        after = _state(engine)
        if who in allowed:
            assert r.status_code in (200, 201), (who, r.text)
        else:
            assert r.status_code in (401, 403), (who, r.status_code, r.text)
            assert after == before, who


def test_nul_characters_are_refused_not_crashing(
        client: TestClient, people: dict[str, Headers]) -> None:  # noqa: F811
    r = client.post("/api/v1/tokens", json={"username": "a\x00b", "password": "x"})
    assert r.status_code == 422 and r.json()["code"] == "invalid-request"
    r = client.post("/api/v1/bodies/maizal/proposals", headers=people["ana"],
                    json={"title": "t", "text": "x\x00y"})
    assert r.status_code == 422


def test_amendment_vote_and_assembly_through_the_api(
        client: TestClient, people: dict[str, Headers]) -> None:  # noqa: F811
    h = people
    pid = client.post("/api/v1/bodies/maizal/proposals", headers=h["ana"],
                      json={"title": "Agua", "text": "Reparar la bomba."}).json()["id"]
    client.post(f"/api/v1/proposals/{pid}/deliberation", headers=h["ana"])
    aid = client.post(f"/api/v1/proposals/{pid}/amendments", headers=h["beto"],
                      json={"title": "Agua", "text": "Reparar la bomba y el tanque."}).json()["id"]
    closes = (utcnow() + timedelta(hours=1)).isoformat()
    r = client.post(f"/api/v1/proposals/{pid}/amendments/{aid}/vote", headers=h["ana"],
                    json={"closes_at": closes})
    assert r.status_code == 403  # the author may accept, but only a facilitator calls a vote
    r = client.post(f"/api/v1/proposals/{pid}/amendments/{aid}/vote", headers=h["facil"],
                    json={"closes_at": closes})
    assert r.status_code == 200 and r.json()["amendments"][0]["state"] == "voting"
    for who in ("ana", "beto", "caro"):
        r = client.put(f"/api/v1/proposals/{pid}/amendments/{aid}/ballot", headers=h[who],
                       json={"choice": "for"})
        assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/proposals/{pid}/amendments/{aid}/close", headers=h["facil"])
    assert r.status_code == 409 and r.json()["code"] == "not-due"
    with Session(ctx_of(client).engine) as s:
        from node.models import Amendment

        a = stored(s, Amendment, aid)
        a.closes_at = utcnow() - timedelta(seconds=1)
        s.add(a)
        s.commit()
    r = client.post(f"/api/v1/proposals/{pid}/amendments/{aid}/close", headers=h["facil"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["current_version"] == 2 and body["amendments"][0]["vote"]["counts"]["for"] == 3
    r = client.post("/api/v1/bodies/maizal/meetings", headers=h["facil"], json={
        "held_at": "2026-11-20T18:30:00Z", "place": "Casa comunal", "attendance": 12,
        "families": 6, "decisions": [{"proposal_id": pid, "for": 10, "against": 2}]})
    assert r.status_code == 201, r.text
    d = r.json()["decisions"][0]
    assert d["method"] == "assembly" and d["version"] == 2 and d["outcome"] == "adopted"
    assert client.get("/api/v1/bodies/maizal/participation").json()["items"][0][
        "participants"] == 12


def test_a_nul_in_the_address_is_refused_not_crashing(client: TestClient) -> None:
    # PostgreSQL text cannot hold NUL: a query parameter with one must not reach a query.
    for path in ("/api/v1/projects?q=%00", "/api/v1/projects?sector=a%00b",
                 "/api/v1/bodies/maizal/proposals?state=%00"):
        r = client.get(path)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "nul-character"
    assert client.get("/api/v1/projects?q=agua").status_code == 200
