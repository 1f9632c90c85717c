"""The pictures drawn on the server: the federation tree, where a matter stands on it,
participation over time, a body's ledger and the flows between members. Data is made
in-process (links, mandates, votes and deliveries written as the domain would have
received them), the pages rendered by the app, each SVG parsed as XML and read for the
right names and numbers, its title, description and text alternative; a body called
`<script>&"` stays text; and, in Chromium at 360 px, nothing is wider than the screen
(each picture is saved as a screenshot in the test's directory)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session, col
from starlette.testclient import TestClient

from node.config import Settings
from node.economy.catalogue import shared
from node.governance import decisions, proposals
from node.models import EconomicEvent, FederationLink, LocalActor, Proposal, RemoteActor
from node.models.base import utcnow
from node.models.matters import Mandate, MandatedVote
from tests.browser import ARGS, CHROMIUM
from tests.conftest import ctx_of
from tests.govfixtures import Commune, build_commune
from tests.pageforms import login
from tests.pagetour import faults

SVG = "{http://www.w3.org/2000/svg}"
NS = shared().namespace
EVIL = '<script>&"'
FED = "https://ciudad.example/actors/ciudad"
A, B, C = (f"https://{h}.example/actors/{h}" for h in ("cerro", "rio", "llano"))
REMOTE_NAMES = {FED: "Ciudad Comunal Sur", A: "Comuna El Cerro", B: EVIL, C: "Comuna Llano"}


@dataclass
class World:
    commune: Commune
    proposal: int  # a matter the assembly decides by its member bodies' mandates


def _remote(s: Session, uri: str, name: str) -> None:
    s.add(RemoteActor(uri=uri, host=uri.split("/")[2], inbox=uri + "/inbox",
                      document=json.dumps({"id": uri, "type": "Group", "name": name})))


def _world(node: Settings, *, federated: bool = True, history: bool = True) -> World:
    """Maizal (the assembly) belongs to the Ciudad Comunal Sur and is itself the
    federation of three communes (one named like markup); a matter before it has a vote
    from El Cerro, a mandate only from the other, none from El Llano; an assembly and an
    online vote; deliveries between Maizal and El Cerro and between members."""
    c = build_commune(node)
    ctx, body, people = c.ctx, c.assembly, c.people
    pid = 0
    with Session(ctx.engine, expire_on_commit=False) as s:
        if federated:
            for uri, name in REMOTE_NAMES.items():
                _remote(s, uri, name)
            s.add(FederationLink(body_id=body.id or 0, remote_uri=FED, direction="member_of",
                                 state="accepted"))
            for uri in (A, B, C):
                s.add(FederationLink(body_id=body.id or 0, remote_uri=uri,
                                     direction="has_member", state="accepted"))
            p = proposals.create(ctx.tx(s, people["m0"]), body, "Camino al llano",
                                 "Abrir el camino.", own_uri=ctx.urls.actor(body.handle))
            s.flush()
            matter = f"{ctx.urls.base}/objects/matter-camino"
            s.execute(update(Proposal).where(col(Proposal.id) == p.id).values(
                matter=matter, electorate="bodies", state="vote",
                closes_at=utcnow() + timedelta(days=2)))
            pid = p.id or 0
            for n, (who, vote) in enumerate(((A, "for"), (B, None))):
                m = Mandate(uri=f"{who}/mandates/{n}", member_body=who,
                            federation=ctx.urls.actor(body.handle), matter=matter, version=1,
                            position="approve", spokespersons=json.dumps([f"{who}/m/ana"]))
                s.add(m)
                if vote:
                    s.add(MandatedVote(uri=f"{who}/votes/{n}", proposal_id=pid, member_body=who,
                                       mandate_uri=m.uri, spokesperson=f"{who}/m/ana",
                                       version=1, choice=vote))
        if history:
            held = utcnow() - timedelta(days=20)
            decisions.record_meeting(ctx.tx(s, people["facil"]), body, held, "Casa comunal",
                                     23, 9, "Agua", "Se habló del agua.", [])
            done = proposals.create(ctx.tx(s, people["m1"]), body, "Cancha", "Techarla.",
                                    own_uri=ctx.urls.actor(body.handle))
            proposals.open_deliberation(ctx.tx(s, people["m1"]), done)
            proposals.open_vote(ctx.tx(s, people["facil"]), done, utcnow() + timedelta(days=3))
            for who in ("m0", "m1", "m2"):
                proposals.cast(ctx.tx(s, people[who]), done, 1, "for", "")
            s.flush()
            s.execute(update(Proposal).where(col(Proposal.id) == done.id).values(
                closes_at=utcnow() - timedelta(minutes=1)))
            s.refresh(done)
            decisions.close_vote(ctx.tx(s, people["facil"]), done)
            here = ctx.urls.actor(body.handle)
            moves = [(here, A, "gas", "kilogram", "12"), (A, here, "gas", "kilogram", "30"),
                     (A, B, "gas", "kilogram", "7.5"), (B, C, "eggs", "dozen", "4")]
            for n, (giver, taker, kind, unit, q) in enumerate(moves):
                s.add(EconomicEvent(uri=f"{ctx.urls.base}/events/{n}", commitment=f"c{n}",
                                    provider=giver, receiver=taker, kind=NS + kind, unit=unit,
                                    quantity=q, state="confirmed", confirmed_at=utcnow()))
        s.commit()
    ctx.reload_actors()
    return World(c, pid)


def _figure(html: str, key: str) -> str:
    m = re.search(rf'<figure class="pic" id="{key}">.*?</figure>', html, re.S)
    assert m, f"no figure {key}"
    return m.group(0)


def _svg(html: str, key: str) -> ET.Element:
    fig = _figure(html, key)
    m = re.search(r"<svg.*?</svg>", fig, re.S)
    assert m, f"figure {key} has no picture"
    # Our own page, parsed as the brief asks (xml.etree): well-formed, or this raises.
    root = ET.fromstring(m.group(0))  # noqa: S314
    assert root.get("role") == "img" and root.get("width") == "100%"
    assert root.get("viewBox", "").startswith("0 0 336 ")
    title, desc = root.find(SVG + "title"), root.find(SVG + "desc")
    assert title is not None and title.text and desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return root


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(SVG + "text")]


def _alternative(html: str, key: str) -> str:
    m = re.search(r'<(table|ul) class="pic-alt">.*?</\1>', _figure(html, key), re.S)
    assert m, f"figure {key} has no text alternative"
    return m.group(0)


def test_the_federation_tree_names_its_federation_and_members(node: Settings,
                                                              client: TestClient) -> None:
    _world(node, history=False)
    html = client.get("/b/maizal/federation").text
    root = _svg(html, "pic-tree")
    texts = _texts(root)
    assert texts.index("Pertenece a") < texts.index("Ciudad Comunal Sur") < texts.index(
        "Comuna El Maizal") < texts.index("Instancias miembros") < texts.index("Comuna El Cerro")
    assert {"Comuna El Cerro", EVIL, "Comuna Llano"} <= set(texts)
    alt = _alternative(html, "pic-tree")
    assert "Comuna El Maizal pertenece a Ciudad Comunal Sur" in alt
    assert "Comuna Llano es miembro de Comuna El Maizal" in alt
    assert "https://" not in _figure(html, "pic-tree")


def test_a_matter_shows_who_voted_who_mandated_and_who_is_pending(
        node: Settings, client: TestClient) -> None:
    w = _world(node, history=False)
    html = client.get(f"/p/{w.proposal}").text
    root = _svg(html, "pic-matter")
    texts = _texts(root)
    assert "Comuna El Maizal" in texts
    assert texts[texts.index("Comuna El Cerro") + 1] == "votó: A favor"
    assert texts[texts.index(EVIL) + 1] == "con mandato: aprobar"
    assert texts[texts.index("Comuna Llano") + 1] == "pendiente"
    desc = root.find(SVG + "desc")
    assert desc is not None and desc.text is not None
    assert "Votaron: 1 · con mandato, sin votar: 1 · pendientes: 1." in desc.text
    # Not by colour alone: the states differ in fill and line style as well as in words.
    looks = {r.get("fill"): r for r in root.iter(SVG + "rect")}
    assert "#1e5b2e" in looks and any(r.get("stroke-dasharray") for r in root.iter(SVG + "rect"))
    alt = _alternative(html, "pic-matter")
    assert "<td>Comuna Llano</td><td>pendiente</td>" in alt


def test_participation_over_time_counts_people_and_families(node: Settings,
                                                            client: TestClient) -> None:
    _world(node, federated=False)
    html = client.get("/b/maizal/participation").text
    root = _svg(html, "pic-participation")
    texts = _texts(root)
    # The assembly 20 days ago first, then the online vote; numbers against the electorate
    # (the assembly had more people than the four members: it is its own base).
    assembly = next(i for i, t in enumerate(texts) if t.endswith("· Asamblea"))
    online = next(i for i, t in enumerate(texts) if t.endswith("· Votación en línea"))
    assert assembly < online
    assert texts[assembly + 1] == "23 de 23 personas"
    assert texts[assembly + 2] == "9 de 9 familias"
    assert texts[online + 1] == "3 de 5 personas"
    assert texts[online + 2] == "2 de 2 familias"
    alt = _alternative(html, "pic-participation")
    assert "<td>Asamblea</td><td>23 de 23 personas</td><td>9 de 9 familias</td>" in alt


def test_the_ledger_and_the_flows_by_resource(node: Settings, client: TestClient) -> None:
    _world(node)
    html = client.get("/b/maizal/economy").text
    texts = _texts(_svg(html, "pic-ledger"))
    partner = texts.index("Comuna El Cerro")
    assert texts[partner + 1:partner + 3] == ["dimos 12 kilogramos", "recibimos 30 kilogramos"]
    assert any(t.endswith("(kilogramos)") for t in texts)
    assert "<td>Comuna El Cerro</td><td>12 kilogramos</td><td>30 kilogramos</td>" in \
        _alternative(html, "pic-ledger")
    flows = _texts(_svg(html, "pic-flows"))
    # Only flows between members (not Maizal's own), each resource on its own scale.
    assert f"Comuna El Cerro → {EVIL}" in flows and "7,5 kilogramos" in flows
    assert f"{EVIL} → Comuna Llano" in flows and "4 docenas" in flows
    assert not any("Maizal" in t for t in flows)
    # The longest bar of each resource fills the width, whatever the quantities.
    widths = [float(r.get("width", 0)) for r in _svg(html, "pic-flows").iter(SVG + "rect")
              if r.get("fill") == "#1f4e79"]
    assert widths.count(150) == 2
    # Another period: last month still has them; a bad one is refused, changing nothing.
    assert "7,5 kilogramos" in client.get("/b/maizal/economy?periodo=30").text
    bad = client.get("/b/maizal/economy?periodo=siempre")
    assert bad.status_code == 422 and "período" in bad.text


def test_nothing_yet_is_said_in_words_and_nothing_is_drawn(node: Settings,
                                                           client: TestClient) -> None:
    build_commune(node)
    ctx_of(client).reload_actors()
    for url, key, words in (
            ("/b/maizal/federation", "pic-tree", "no hay árbol que mostrar"),
            ("/b/maizal/participation", "pic-participation", "Todavía no hay asambleas"),
            ("/b/maizal/economy", "pic-ledger", "Todavía no hay entregas confirmadas")):
        fig = _figure(client.get(url).text, key)
        assert words in fig and "<svg" not in fig, url
    # A body that is no federation shows no flows at all.
    assert 'id="pic-flows"' not in client.get("/b/maizal/economy").text


def test_a_name_like_markup_stays_text(node: Settings, client: TestClient) -> None:
    w = _world(node)
    with Session(w.commune.ctx.engine) as s:
        s.execute(update(LocalActor).where(col(LocalActor.id) == w.commune.assembly.id)
                  .values(name=EVIL))
        s.commit()
    w.commune.ctx.reload_actors()
    for url, key in (("/b/maizal/federation", "pic-tree"), (f"/p/{w.proposal}", "pic-matter"),
                     ("/b/maizal/participation", "pic-participation"),
                     ("/b/maizal/economy", "pic-ledger"), ("/b/maizal/economy", "pic-flows")):
        html = client.get(url).text
        fig = _figure(html, key)
        assert "<script>" not in fig, url
        root = _svg(html, key)  # parses: every & and < escaped
        everything = " ".join([*_texts(root), root.findtext(SVG + "title") or "",
                               root.findtext(SVG + "desc") or ""])
        assert EVIL in everything or "Maizal" not in everything, url


WIDE = """() => [...document.querySelectorAll('body *')].filter(
  e => e.getBoundingClientRect().right > 360).map(e => e.outerHTML.slice(0, 80))"""


@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is not installed")
def test_each_picture_fits_a_phone(node: Settings, client: TestClient, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    w = _world(node)
    login(client, "facil")
    pages = {"federation": "/b/maizal/federation", "matter": f"/p/{w.proposal}",
             "participation": "/b/maizal/participation", "economy": "/b/maizal/economy"}
    html = {name: client.get(url).text for name, url in pages.items()}
    shots = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 360, "height": 640})
            for name, text in html.items():
                tab.set_content(text)
                assert tab.evaluate("document.documentElement.scrollWidth") <= 360, (
                    name, tab.evaluate(WIDE))
                for fig in tab.locator("figure.pic").all():
                    box = fig.bounding_box()
                    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
                    svg = fig.locator("svg")
                    if svg.count():
                        # Labels stay readable: the text is drawn at 11 px or more.
                        scale = svg.bounding_box()["width"] / 336  # type: ignore[index]
                        assert scale * 12 >= 11, (name, scale)
                    path = tmp_path / f"{fig.get_attribute('id')}.png"
                    fig.screenshot(path=str(path))
                    shots.append(path)
        finally:
            browser.close()
    assert {p.stem for p in shots} == {"pic-tree", "pic-matter", "pic-participation",
                                       "pic-ledger", "pic-flows"}
    assert all(p.stat().st_size > 1000 for p in shots)


def test_the_pictures_speak_each_language(node: Settings, client: TestClient) -> None:
    w = _world(node)
    urls = ["/b/maizal/federation", f"/p/{w.proposal}", "/b/maizal/participation",
            "/b/maizal/economy"]
    problems = []
    for lang in ("es", "en"):
        client.cookies.set("lang", lang)
        for url in urls:
            problems += [f"{lang} {url}: {f}" for f in faults(client.get(url).text, lang)]
    assert not problems, "\n".join(problems)
    assert "Belongs to" in client.get("/b/maizal/federation").text
