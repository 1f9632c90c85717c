"""Exports of a body's record: CSV (for spreadsheets: BOM, header, the node's times,
words, no formulas) and JSON, of decisions, votes, participation and the ledger;
votes as the statute allows (a secret ballot gives counts only), votes refused to
non-members and a private body's exports invisible to outsiders."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from starlette.testclient import TestClient

from node.api.v1.routes_exports import safe_cell
from node.config import Settings
from node.economy.catalogue import shared
from node.governance import bodies, decisions, proposals
from node.governance.statute import Statute
from node.models import EconomicEvent, LocalActor, Proposal
from node.models.base import utcnow
from tests.conftest import ctx_of, hold_to_openapi
from tests.govfixtures import Commune, build_commune
from tests.pageforms import login

API = "/api/v1/bodies/maizal/exports"


def _vote(c: Commune, title: str, secret: bool, choices: dict[str, tuple[str, str]]) -> int:
    ctx, body, people = c.ctx, c.assembly, c.people
    with c.session() as s:
        bodies.set_statute(ctx.tx(s), body, Statute(secret_ballot=secret))
        p = proposals.create(ctx.tx(s, people["m0"]), body, title, "Texto.",
                             own_uri=ctx.urls.actor(body.handle))
        proposals.open_deliberation(ctx.tx(s, people["m0"]), p)
        proposals.open_vote(ctx.tx(s, people["facil"]), p, utcnow() + timedelta(days=3))
        for who, (choice, reason) in choices.items():
            proposals.cast(ctx.tx(s, people[who]), p, 1, choice, reason)
        s.flush()
        s.execute(update(Proposal).where(col(Proposal.id) == p.id).values(
            closes_at=utcnow() - timedelta(minutes=1)))
        s.refresh(p)
        decisions.close_vote(ctx.tx(s, people["facil"]), p)
        s.commit()
        return p.id or 0


def _record(c: Commune) -> tuple[int, int]:
    """An open vote whose title and reason try to be formulas, and a secret one."""
    open_vote = _vote(c, "=HYPERLINK(\"http://mal.example\",\"clic\")", False,
                      {"m0": ("for", "+1 de acuerdo"), "m1": ("against", "@SUM(A1)"),
                       "m2": ("for", "")})
    secret = _vote(c, "Elegir la vocería", True,
                   {"m0": ("for", "mi razón secreta"), "m1": ("against", ""),
                    "m3": ("against", "")})
    return open_vote, secret


def _token(client: TestClient, who: str) -> dict[str, str]:
    r = client.post("/api/v1/tokens", json={"username": who, "password": "contraseña-larga"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _csv(r: Any) -> list[list[str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM spreadsheets read UTF-8 by
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))


def test_decisions_export_as_json_and_csv(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    open_vote, secret = _record(c)
    hold_to_openapi(client)
    data = client.get(f"{API}/decisions.json").json()  # a public body's decisions
    assert data["export"] == "decisions" and data["timezone"] == "America/Caracas"
    rows = {r["proposal"]: r for r in data["items"]}
    assert set(rows) == {open_vote, secret}
    assert rows[open_vote]["outcome"] == "adopted" and rows[open_vote]["for"] == 2
    assert rows[secret]["outcome"] == "rejected" and rows[secret]["secret_ballot"] is True
    # The node's zone, with its offset.
    assert rows[secret]["decided_at"].endswith("-04:00")
    table = _csv(client.get(f"{API}/decisions.csv"))
    head = table[0]
    assert head[:4] == ["decisión", "propuesta", "título", "versión"]
    by_title = {r[head.index("título")]: r for r in table[1:]}
    assert len(table) == 3
    # A title that would run as a formula stays text.
    cell = "'=HYPERLINK(\"http://mal.example\",\"clic\")"
    assert by_title[cell][head.index("resultado")] == "aprobada"
    assert by_title["Elegir la vocería"][head.index("voto secreto")] == "sí"
    assert by_title["Elegir la vocería"][head.index("decidida el")].endswith("-04:00")
    english = _csv(client.get(f"{API}/decisions.csv?lang=en"))
    assert english[0][:3] == ["decision", "proposal", "title"]
    assert "adopted" in english[1] + english[2]


def test_votes_respect_the_secret_ballot(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    open_vote, secret = _record(c)
    auth = _token(client, "m3")
    hold_to_openapi(client)
    items = client.get(f"{API}/votes.json", headers=auth).json()["items"]
    named = [r for r in items if r["proposal"] == open_vote]
    assert sorted((r["voter"], r["choice"], r["reason"]) for r in named) == [
        ("Miembro 0", "for", "+1 de acuerdo"), ("Miembro 1", "against", "@SUM(A1)"),
        ("Miembro 2", "for", None)]
    counted = [r for r in items if r["proposal"] == secret]
    assert {r["choice"]: r["ballots"] for r in counted} == {"for": 1, "against": 2,
                                                           "abstain": 0}
    assert all(r["voter"] is None and r["reason"] is None for r in counted)
    raw = client.get(f"{API}/votes.csv", headers=auth)
    table = _csv(raw)
    assert "mi razón secreta" not in raw.content.decode("utf-8-sig")
    head = table[0]
    secret_rows = [r for r in table[1:] if r[head.index("título")] == "Elegir la vocería"]
    assert all(r[head.index("votante")] == "" for r in secret_rows) and len(secret_rows) == 3
    reasons = {r[head.index("razón")] for r in table[1:]}
    assert {"'+1 de acuerdo", "'@SUM(A1)"} <= reasons
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in table for cell in row)


def test_votes_are_refused_to_non_members_with_nothing_leaked(node: Settings,
                                                              client: TestClient) -> None:
    c = build_commune(node)
    _record(c)
    r = client.get(f"{API}/votes.csv")
    assert r.status_code == 401 and "Miembro" not in r.text
    for who in ("outsider", "other"):  # someone, and a member of another body
        r = client.get(f"{API}/votes.json", headers=_token(client, who))
        assert r.status_code == 403 and r.headers["content-type"].startswith(
            "application/problem+json")
        assert "Miembro" not in r.text and "acuerdo" not in r.text
    # The pages' download links: votes only for members.
    login(client, "outsider")
    assert "exports/votes.csv" not in client.get("/b/maizal/decisions").text
    r = client.get("/b/maizal/exports/votes.csv")
    assert r.status_code == 403 and "Miembro 0" not in r.text
    assert "exports/decisions.csv" in client.get("/b/maizal/decisions").text
    client.cookies.clear()
    login(client, "m1")
    page = client.get("/b/maizal/decisions").text
    assert 'href="/b/maizal/exports/votes.csv"' in page
    table = _csv(client.get("/b/maizal/exports/votes.csv"))
    assert any("Miembro 0" in row for row in table)


def test_a_private_body_exports_nothing_to_outsiders(node: Settings,
                                                     client: TestClient) -> None:
    c = build_commune(node)
    _record(c)
    with c.session() as s:
        s.execute(update(LocalActor).where(col(LocalActor.id) == c.assembly.id)
                  .values(public=False))
        s.commit()
    ctx_of(client).reload_actors()
    outsider = _token(client, "outsider")
    for what in ("decisions", "votes", "participation", "ledger"):
        for fmt in ("csv", "json"):
            r = client.get(f"{API}/{what}.{fmt}", headers=outsider)
            assert r.status_code == 404, (what, fmt)
            assert "vocería" not in r.text
    member = _token(client, "m0")
    assert client.get(f"{API}/decisions.json", headers=member).status_code == 200


def test_participation_counts_assemblies_and_decisions(node: Settings,
                                                        client: TestClient) -> None:
    c = build_commune(node)
    open_vote, _secret = _record(c)
    hold_to_openapi(client)
    items = client.get(f"{API}/participation.json").json()["items"]
    decided = [r for r in items if r["kind"] == "decision"]
    assert {r["proposal"]: (r["participants"], r["electorate_members"]) for r in decided}[
        open_vote] == (3, 5)
    table = _csv(client.get(f"{API}/participation.csv"))
    assert table[0][0] == "tipo" and {r[0] for r in table[1:]} == {"decisión"}


def test_the_ledger_exports_confirmed_deliveries(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    urls = c.ctx.urls
    here, there = urls.actor("maizal"), "https://cumbe.example/actors/cumbe"
    kind = shared().namespace + "gas"
    with c.session() as s:
        for n, (giver, taker, state, note) in enumerate([
                (here, there, "confirmed", "=cmd|' /C calc'!A0"),
                (there, here, "confirmed", "maíz"), (here, there, "recorded", "")]):
            s.add(EconomicEvent(uri=f"{urls.base}/objects/ev{n}", commitment="c", provider=giver,
                                receiver=taker, kind=kind, unit="kilogram",
                                quantity=str(Decimal("12.5") + n), note=note, state=state))
        s.commit()
    hold_to_openapi(client)
    items = client.get(f"{API}/ledger.json").json()["items"]
    assert [(r["direction"], r["quantity"], r["partner_uri"]) for r in items] == [
        ("gave", "12.5", there), ("received", "13.5", there)]
    assert items[0]["partner"] == "cumbe@cumbe.example"
    table = _csv(client.get(f"{API}/ledger.csv"))
    head = table[0]
    assert [r[head.index("sentido")] for r in table[1:]] == ["dio", "recibió"]
    assert table[1][head.index("nota")] == "'=cmd|' /C calc'!A0"


def test_what_is_not_an_export_is_refused(node: Settings, client: TestClient) -> None:
    build_commune(node)
    assert client.get(f"{API}/secrets.csv").status_code == 422
    assert client.get(f"{API}/decisions.xlsx").status_code == 422
    assert client.get("/api/v1/bodies/nadie/exports/decisions.csv").status_code == 404


def test_formula_cells_are_neutralised() -> None:
    for bad in ("=1+1", "+1", "-2", "@A1", "\tx", "\rx"):
        assert safe_cell(bad) == "'" + bad
    assert safe_cell("Año 2026") == "Año 2026" and safe_cell("") == ""


def test_votes_on_amendments_are_in_the_votes_export_as_the_statute_allows(
        node: Settings, client: TestClient) -> None:
    from node.governance import amendments
    from node.models import Amendment

    c = build_commune(node)
    ctx, people = c.ctx, c.people

    def amendment_vote(title: str, secret: bool, choices: dict[str, str]) -> tuple[int, int]:
        with c.session() as s:
            bodies.set_statute(ctx.tx(s), c.assembly, Statute(secret_ballot=secret))
            p = proposals.create(ctx.tx(s, people["m0"]), c.assembly, title, "Texto.",
                                 own_uri=ctx.urls.actor("maizal"))
            proposals.open_deliberation(ctx.tx(s, people["m0"]), p)
            a = amendments.amend(ctx.tx(s, people["m1"]), p, f"{title}, enmendada", "Otro.")
            amendments.open_vote(ctx.tx(s, people["facil"]), p, a.id or 0,
                                 utcnow() + timedelta(hours=1))
            for who, choice in choices.items():
                amendments.cast(ctx.tx(s, people[who]), p, a.id or 0, choice,
                                "mi razón" if who == "m0" else "")
            s.flush()
            s.execute(update(Amendment).where(col(Amendment.id) == a.id).values(
                closes_at=utcnow() - timedelta(minutes=1)))
            s.refresh(a)
            amendments.close(ctx.tx(s), a)
            s.commit()
            return p.id or 0, a.id or 0

    open_p, open_a = amendment_vote("Huerto", False, {"m0": "for", "m1": "for", "m2": "against"})
    secret_p, secret_a = amendment_vote("Vocería", True, {"m0": "for", "m1": "against"})
    auth = _token(client, "m3")
    items = client.get(f"{API}/votes.json", headers=auth).json()["items"]
    named = [r for r in items if r["amendment"] == open_a]
    assert sorted((r["voter"], r["choice"], r["reason"]) for r in named) == [
        ("Miembro 0", "for", "mi razón"), ("Miembro 1", "for", None),
        ("Miembro 2", "against", None)]
    assert {(r["proposal"], r["decision"], r["title"]) for r in named} == {
        (open_p, None, "Huerto, enmendada")}
    counted = [r for r in items if r["amendment"] == secret_a]
    assert {r["choice"]: r["ballots"] for r in counted} == {"for": 1, "against": 1,
                                                           "abstain": 0}
    assert all(r["voter"] is None and r["reason"] is None and r["proposal"] == secret_p
               for r in counted)
    table = _csv(client.get(f"{API}/votes.csv", headers=auth))
    head = table[0]
    assert head[-1] == "enmienda"
    assert {r[head.index("enmienda")] for r in table[1:]} == {str(open_a), str(secret_a)}
    # Non-members still get nothing of them.
    assert client.get(f"{API}/votes.json").status_code == 401
