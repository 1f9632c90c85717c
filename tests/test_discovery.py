"""WebFinger, NodeInfo, actor documents and the HTML profile."""

from __future__ import annotations

import jsonschema
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.testclient import TestClient

from node.activitypub.directory import keys_in
from node.activitypub.keys import decode_multibase_public
from tests.conftest import NODE_URL
from tests.vectorlib import load

ACTOR = f"{NODE_URL}/actors/maizal"
AP = "application/activity+json"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


def test_webfinger(client: TestClient) -> None:
    r = client.get("/.well-known/webfinger", params={"resource": "acct:maizal@node.test"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/jrd+json")
    jrd = r.json()
    assert jrd["subject"] == "acct:maizal@node.test"
    self_link = next(lk for lk in jrd["links"] if lk["rel"] == "self")
    assert self_link == {"rel": "self", "type": AP, "href": ACTOR}
    assert client.get("/.well-known/webfinger",
                      params={"resource": ACTOR}).json()["subject"] == jrd["subject"]


def test_webfinger_errors(client: TestClient) -> None:
    r = client.get("/.well-known/webfinger")
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert client.get("/.well-known/webfinger",
                      params={"resource": "acct:nobody@node.test"}).status_code == 404
    assert client.get("/.well-known/webfinger",
                      params={"resource": "acct:maizal@other.example"}).status_code == 404


def test_host_meta_points_to_webfinger(client: TestClient) -> None:
    r = client.get("/.well-known/host-meta")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xrd+xml")
    assert f'template="{NODE_URL}/.well-known/webfinger?resource={{uri}}"' in r.text


def test_nodeinfo_validates_against_schema(client: TestClient) -> None:
    disco = client.get("/.well-known/nodeinfo").json()
    link = disco["links"][0]
    assert link["rel"] == "http://nodeinfo.diaspora.software/ns/schema/2.1"
    doc = client.get(link["href"].replace(NODE_URL, "")).json()
    jsonschema.validate(doc, load("nodeinfo/schema-2.1.json"))
    assert doc["protocols"] == ["activitypub"] and doc["metadata"]["level"] == "commune"


def test_actor_document_under_both_media_types(client: TestClient) -> None:
    for accept in (AP, LD):
        r = client.get("/actors/maizal", headers={"Accept": accept})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(AP)
        doc = r.json()
        assert doc["id"] == ACTOR and doc["type"] == "Group" and doc["level"] == "commune"
        assert doc["endpoints"]["sharedInbox"] == f"{NODE_URL}/inbox"
        assert doc["publicKey"]["owner"] == ACTOR
        published = keys_in(doc)
        assert set(published) == {f"{ACTOR}#main-key", f"{ACTOR}#ed25519-key"}
        main_key = published[f"{ACTOR}#main-key"].key
        assert isinstance(main_key, RSAPublicKey) and main_key.key_size == 2048
        method = doc["assertionMethod"][0]
        assert method["type"] == "Multikey" and method["controller"] == ACTOR
        decode_multibase_public(method["publicKeyMultibase"])


def test_browser_gets_html_profile(client: TestClient) -> None:
    r = client.get("/actors/maizal", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Comuna El Maizal" in r.text and "@maizal@node.test" in r.text
    assert '<html lang="es">' in r.text
    assert client.get("/").status_code == 200


def test_unknown_actor_is_404_problem(client: TestClient) -> None:
    r = client.get("/actors/nobody", headers={"Accept": AP})
    assert r.status_code == 404 and r.json()["code"] == "no-such-actor"


def test_context_document_is_served(client: TestClient) -> None:
    ctx = client.get("/ns/comuna/v1").json()["@context"]
    assert ctx["level"]["@id"] == "comuna:level"
