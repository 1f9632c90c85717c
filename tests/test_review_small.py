"""Small things a new user read wrong: an acceptance that does not yet seal an exchange,
meetings of one day out of order, a federation counting people instead of its members."""

from __future__ import annotations

import json

from sqlmodel import Session
from starlette.testclient import TestClient

from node.config import Settings
from node.models import Exchange, FederationLink, RemoteActor
from tests.govfixtures import build_commune
from tests.pageforms import login, post

CITY = "https://ciudad.example/actors/ciudad"
CUMBE = "https://cumbe.example/actors/cumbe"


def _remote(s: Session, uri: str, name: str) -> None:
    s.add(RemoteActor(uri=uri, host=uri.split("/")[2],
                      document=json.dumps({"id": uri, "type": "Group", "name": name})))


def test_an_acceptance_says_who_is_still_missing(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    here = c.ctx.urls.actor(c.assembly.handle)
    with Session(c.ctx.engine) as s:
        _remote(s, CITY, "Ciudad Comunal Sur")
        _remote(s, CUMBE, "Comuna Cumbe Adentro")
        ex = Exchange(uri=f"{CITY}/exchanges/1", proposer=CITY, mode="barter",
                      parties=json.dumps([here, CUMBE]), inboxes=json.dumps(
                          {CITY: f"{CITY}/inbox"}))
        s.add(ex)
        s.commit()
        ex_id = ex.id
    login(client, "facil")
    r = post(client, f"/b/maizal/economy/exchanges/{ex_id}/answer", {"accept": "1"})
    assert ("Aceptado por Comuna El Maizal; falta que acepte Comuna Cumbe Adentro."
            in r.text), r.text[-3000:]
    with Session(c.ctx.engine) as s:
        row = s.get(Exchange, ex_id)
        assert row is not None and row.state == "proposed"


def test_meetings_of_one_day_newest_first(node: Settings, client: TestClient) -> None:
    build_commune(node)
    login(client, "facil")
    for typed in ("30/11/2026 4:30 p. m.", "30/11/2026 5:01 p. m.", "30/11/2026 9:15 a. m.",
                  "29/11/2026 11:59 p. m."):
        r = post(client, "/b/maizal/meetings", {"held_at": typed, "place": typed,
                                                "attendance": "5"})
        assert "Asamblea registrada" in r.text, r.text[-2000:]
    page = client.get("/b/maizal/meetings").text
    spots = [page.index(f"· {t}</h2>") for t in (
        "30/11/2026 5:01 p. m.", "30/11/2026 4:30 p. m.", "30/11/2026 9:15 a. m.",
        "29/11/2026 11:59 p. m.")]
    assert spots == sorted(spots), spots


def test_a_federation_counts_its_member_bodies(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    with Session(c.ctx.engine) as s:
        for n in range(3):
            s.add(FederationLink(body_id=c.assembly.id or 0, direction="has_member",
                                 remote_uri=f"https://c{n}.example/actors/c{n}",
                                 state="accepted"))
        s.commit()
    page = client.get("/b/maizal").text
    line = next(p for p in page.split('<p class="meta">')[1:] if "instancia" in p
                or "integrante" in p.split("</p>")[0]).split("</p>")[0]
    assert "3 instancias miembros" in line and "integrante" not in line, line
    client.cookies.set("lang", "en")
    assert "3 member bodies" in client.get("/b/maizal").text
