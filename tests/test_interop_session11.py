"""What other servers read from a node, from an interoperability review (eleventh
session): each test failed before its fix."""

from __future__ import annotations

import json

from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.config import Settings
from node.governance import bodies
from node.models import AuditEntry, Follower, LocalActor
from node.outbox.publish import post_note
from tests.conftest import ctx_of
from tests.fakeremote import FakeRemote
from tests.helpers import run_loops
from tests.inboxsend import ACTOR, processed, send

AP = {"Accept": "application/activity+json"}


def test_an_account_that_deletes_itself_follows_no_more(node: Settings, client: TestClient,
                                                        remote: FakeRemote) -> None:
    """Mastodon sends Delete{actor: itself} when an account is deleted: it was refused
    (only a member body may delete, a mandate) and the account stayed a follower."""
    bob, mallory = remote.actor("bob"), remote.actor("mallory")
    for who in (bob, mallory):
        send(client, who, who.activity("Follow", ACTOR))
    run_loops(node, processed)
    # Someone else cannot delete bob's follow by naming him.
    send(client, mallory, {**mallory.activity("Delete", bob.uri), "to": [
        "https://www.w3.org/ns/activitystreams#Public"]})
    ctx = run_loops(node, processed)
    with Session(ctx.engine) as s:
        assert sorted(f.follower_uri for f in s.exec(select(Follower)).all()) == sorted(
            [bob.uri, mallory.uri])
    send(client, bob, {**bob.activity("Delete", bob.uri), "to": [
        "https://www.w3.org/ns/activitystreams#Public"]})
    ctx = run_loops(node, processed)
    with Session(ctx.engine) as s:
        assert [f.follower_uri for f in s.exec(select(Follower)).all()] == [mallory.uri]
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "account.deleted")).one()
    page = client.get(f"{ACTOR}/followers", headers=AP).json()
    assert page["orderedItems"] == [mallory.uri]


def test_a_typed_summary_reaches_peers_as_escaped_html(node: Settings,
                                                       client: TestClient) -> None:
    """The summary is typed as plain text (the profile page escapes it) but went out raw
    in the actor document, which peers read as HTML: a <script> and a javascript: link."""
    ctx = ctx_of(client)
    typed = 'Comuna <b>agrícola</b> <script>alert(1)</script>\nSegunda línea & más\n\nOtro'
    with Session(ctx.engine) as s:
        b = bodies.body_by_handle(s, "maizal")
        b.summary = typed
        s.add(b)
        s.commit()
    ctx.reload_actors()
    doc = client.get(ACTOR, headers=AP).json()
    assert doc["summary"] == ("<p>Comuna &lt;b&gt;agrícola&lt;/b&gt; &lt;script&gt;alert(1)"
                              "&lt;/script&gt;<br>Segunda línea &amp; más</p><p>Otro</p>")


def test_a_notice_has_a_url_a_browser_can_open(node: Settings, client: TestClient) -> None:
    """Notes had no `url` and their id answered a browser with JSON; Mastodon links
    'open original' to it."""
    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        item = post_note(ctx.tx(s), body, "Asamblea el sábado <en la escuela>.")
        s.commit()
        note = json.loads(item.body)["object"]
    assert note["url"] == note["id"]
    path = note["id"].split("://", 1)[1].split("/", 1)[1]
    r = client.get(f"/{path}", headers={"Accept": "text/html,application/xhtml+xml,*/*"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Asamblea el sábado &lt;en la escuela&gt;." in r.text
    assert "Maizal" in r.text or "maizal" in r.text
    assert "Accept" in r.headers["vary"]
    # Servers and clients without an HTML preference still get the object.
    for accept in ("application/activity+json", "", "*/*"):
        r = client.get(f"/{path}", headers={"Accept": accept} if accept else {})
        assert r.json()["id"] == note["id"], accept


def test_a_private_body_is_not_followed_found_or_shown(node: Settings, client: TestClient,
                                                       remote: FakeRemote) -> None:
    """A private body (hidden by the API) took followers, said it was discoverable,
    showed its profile page to anyone, and was counted in NodeInfo."""
    ctx = ctx_of(client)
    before = client.get("/nodeinfo/2.1").json()["usage"]["users"]["total"]
    with Session(ctx.engine) as s:
        primary = bodies.body_by_handle(s, "maizal")
        bodies.create_body(ctx.tx(s), primary, "secreto", "Consejo privado",
                           "communal_council", public=False)
        s.commit()
    ctx.reload_actors()
    actor = ACTOR.replace("/maizal", "/secreto")
    doc = client.get(actor, headers=AP).json()
    assert doc["discoverable"] is False and doc["publicKey"]["publicKeyPem"]
    r = client.get(actor, headers={"Accept": "text/html"})
    assert r.status_code == 404 and "Consejo privado" not in r.text
    assert client.get("/nodeinfo/2.1").json()["usage"]["users"]["total"] == before
    bob = remote.actor("bob")
    follow = bob.activity("Follow", actor)
    body, headers = bob.signed_post(f"{actor}/inbox", follow)
    assert client.post(f"{actor}/inbox", content=body, headers=headers).status_code == 202
    ctx = run_loops(node, lambda c: processed(c) and any(
        json.loads(p["body"]).get("type") == "Reject" for p in remote.posts))
    reject = next(json.loads(p["body"]) for p in remote.posts
                  if json.loads(p["body"]).get("type") == "Reject")
    assert reject["object"]["id"] == follow["id"] and reject["actor"] == actor
    with Session(ctx.engine) as s:
        assert s.exec(select(Follower)).all() == []


def test_a_federations_amendment_uri_answers(node: Settings, client: TestClient) -> None:
    """A mandate names the federation's amendments by URI, and the pages linked them,
    but the URI answered 404: it now serves the amendment as announced to the member
    bodies (a public federation only), and sends a browser to the proposal's page."""
    from node.governance import amendments, members, proposals
    from node.models import FederationLink, Member

    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        body = bodies.body_by_handle(s, "maizal")
        rosa = members.create_member(ctx.tx(s), "rosa", "contraseña-larga", "Rosa")
        members.grant(ctx.tx(s), rosa, body, "facilitator")
        s.add(FederationLink(body_id=body.id or 0, remote_uri="https://cumbe.example/a/cumbe",
                             direction="has_member", state="accepted",
                             remote_inbox="https://cumbe.example/inbox"))
        p = proposals.create(ctx.tx(s, rosa), body, "Acueducto", "Un acueducto.")
        proposals.open_deliberation(ctx.tx(s, rosa), p)
        p.matter, p.electorate = "https://cumbe.example/objects/m1", "bodies"
        s.add(p)
        s.flush()
        a = amendments.amend(ctx.tx(s, rosa), p, "Con tanque", "Un acueducto con tanque.")
        s.commit()
        aid, pid, rosa_id = a.id, p.id, rosa.id
    uri = f"{ACTOR.rsplit('/actors/', 1)[0]}/amendments/{aid}"
    path = f"/amendments/{aid}"
    doc = client.get(path, headers=AP).json()
    assert doc["id"] == uri and doc["type"] == "Amendment" and doc["name"] == "Con tanque"
    assert doc["amendmentState"] == "open" and doc["proof"]["verificationMethod"]
    r = client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith(f"/p/{pid}")
    assert client.get("/amendments/999", headers=AP).status_code == 404
    with Session(ctx.engine) as s:
        body = bodies.body_by_handle(s, "maizal")
        body.public = False
        s.add(body)
        s.commit()
        assert s.get(Member, rosa_id)
    assert client.get(path, headers=AP).status_code == 404


def test_nothing_of_a_private_body_is_public_over_activitypub(node: Settings,
                                                              client: TestClient) -> None:
    """A private council's project record went to its public outbox, to /objects (JSON
    and page) and NodeInfo's count: refused now, and whatever such a body has in its
    outbox is not served."""
    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        primary = bodies.body_by_handle(s, "maizal")
        hidden = bodies.create_body(ctx.tx(s), primary, "reservado", "Consejo reservado",
                                    "communal_council", public=False)
        from node.governance import members

        rosa = members.create_member(ctx.tx(s), "rosa", "contraseña-larga", "Rosa")
        members.grant(ctx.tx(s), rosa, hidden, "facilitator")
        s.commit()
    ctx.reload_actors()
    token = client.post("/api/v1/tokens", json={"username": "rosa",
                                                "password": "contraseña-larga"}).json()["token"]
    r = client.post("/api/v1/bodies/reservado/projects", headers={
        "Authorization": f"Bearer {token}"}, json={
        "title": "Pozo", "sector": "agua", "problem": "SECRETO-INTERNO"})
    assert r.status_code == 409 and r.json()["code"] == "private-record", r.text
    posts = client.get("/nodeinfo/2.1").json()["usage"]["localPosts"]
    # Whatever such a body has published (before it turned private, say) is not served.
    with Session(ctx.engine) as s:
        item = post_note(ctx.tx(s), bodies.body_by_handle(s, "reservado"), "SECRETO-INTERNO")
        s.commit()
        oid = json.loads(item.body)["object"]["id"]
    actor = ACTOR.replace("/maizal", "/reservado")
    for path in (f"{actor}/outbox?page=true", f"{actor}/outbox", f"{actor}/followers",
                 f"{actor}/following"):
        r = client.get(path, headers=AP)
        assert r.status_code == 404 and "SECRETO" not in r.text, path
    for accept in (AP, {"Accept": "text/html"}):
        r = client.get(oid, headers=accept)
        assert r.status_code == 404 and "SECRETO" not in r.text, accept
    assert client.get("/nodeinfo/2.1").json()["usage"]["localPosts"] == posts
    # The public body's record is served as before.
    assert client.get(f"{ACTOR}/outbox", headers=AP).status_code == 200
