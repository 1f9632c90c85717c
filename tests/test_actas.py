"""Actas: the printable minute of an assembly and of a decision, as a page with a print
stylesheet and as a PDF read back; with the proof behind each decision (its tally and
its audit entry; for a federation's decision, its signed mandates and votes checked
again), the roll call only for members and never for a secret ballot."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from starlette.testclient import TestClient

from node.config import Settings
from node.federations import matters, objects, outcomes
from node.governance import bodies, decisions, proposals
from node.governance.statute import Statute
from node.governance.tally import Counts, Electorate, tally
from node.models import Decision, LocalActor, Proposal
from node.models.base import utcnow
from node.web import acta_pdf
from tests import pdftext
from tests.conftest import ctx_of
from tests.govfixtures import Commune, build_commune
from tests.pageforms import login


def _decided_online(c: Commune, title: str, secret: bool = False) -> Proposal:
    """A proposal of the assembly voted online (Rosa's reason kept) and counted."""
    ctx, body, people = c.ctx, c.assembly, c.people
    with c.session() as s:
        if secret:
            bodies.set_statute(ctx.tx(s), body, Statute(secret_ballot=True))
        p = proposals.create(ctx.tx(s, people["m0"]), body, title,
                             "Reparar la tubería del sector «La Peña» antes de diciembre.",
                             own_uri=ctx.urls.actor(body.handle))
        proposals.open_deliberation(ctx.tx(s, people["m0"]), p)
        proposals.open_vote(ctx.tx(s, people["facil"]), p, utcnow() + timedelta(days=3))
        proposals.cast(ctx.tx(s, people["m0"]), p, 1, "for", "Hace falta el agua")
        proposals.cast(ctx.tx(s, people["m1"]), p, 1, "for", "")
        proposals.cast(ctx.tx(s, people["m2"]), p, 1, "against", "Muy cara")
        s.flush()
        s.execute(update(Proposal).where(col(Proposal.id) == p.id).values(
            closes_at=utcnow() - timedelta(minutes=1)))
        s.refresh(p)
        decisions.close_vote(ctx.tx(s, people["facil"]), p)
        s.commit()
    return p


def _assembly(c: Commune) -> tuple[int, Proposal]:
    """An assembly on 28/11/2026 at 22:30 UTC (6:30 p. m. in Caracas) that decided one
    matter by show of hands."""
    ctx, body, people = c.ctx, c.assembly, c.people
    with c.session() as s:
        p = proposals.create(ctx.tx(s, people["m1"]), body, "Techar la cancha",
                             "Techar la cancha con láminas.", own_uri=ctx.urls.actor(body.handle))
        proposals.open_deliberation(ctx.tx(s, people["m1"]), p)
        # The assembly is recorded after it met: the clock of the test is past it.
        tx = ctx.tx(s, people["facil"])
        meeting, _made = decisions.record_meeting(
            tx, body, datetime(2025, 11, 28, 22, 30, tzinfo=UTC), "Casa comunal de Peñas", 40,
            12, "1. La cancha", "Se discutió el techo; habló la señora Muñoz.",
            [{"proposal_id": p.id, "for": 30, "against": 5, "abstain": 2}])
        s.commit()
        return meeting.id or 0, p


def test_the_acta_of_an_assembly_shows_its_record_and_prints(node: Settings,
                                                              client: TestClient) -> None:
    c = build_commune(node)
    mid, _p = _assembly(c)
    r = client.get(f"/b/maizal/meetings/{mid}/acta")
    assert r.status_code == 200, r.text
    page = r.text
    # In the node's zone (America/Caracas), as people write it.
    assert "28/11/2025 6:30 p. m." in page and "Casa comunal de Peñas" in page
    assert "40 personas presentes" in page and "12 familias" in page
    assert "habló la señora Muñoz" in page and "1. La cancha" in page
    assert "Techar la cancha" in page and "Aprobada" in page
    assert "A favor 30 · En contra 5 · Abstenciones 2" in page
    assert "Votaron 37 de 40 presentes" in page
    # Each record's audit entry is found and holds.
    assert page.count("La huella se recalcula y enlaza con el asiento anterior.") == 2
    # Printable: navigation hidden, a page per decision, the print rules in the page.
    assert "@media print" in page and "nav,.skip,.noprint" in page
    assert "break-before:page" in page and 'class="part new-page"' in page
    assert f'href="/b/maizal/meetings/{mid}/acta.pdf"' in page
    # The assemblies page links to it.
    assert f'href="/b/maizal/meetings/{mid}/acta"' in client.get("/b/maizal/meetings").text
    # In English where the pages offer it.
    client.cookies.set("lang", "en")
    english = client.get(f"/b/maizal/meetings/{mid}/acta").text
    assert "Minutes of the assembly" in english and "6:30 pm" in english


def test_the_pdf_of_an_assembly_is_a_pdf_with_its_text(node: Settings,
                                                       client: TestClient) -> None:
    c = build_commune(node)
    mid, _p = _assembly(c)
    r = client.get(f"/b/maizal/meetings/{mid}/acta.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf = r.content
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
    # The assembly on the first page, its decision on a page of its own.
    assert pdftext.page_count(pdf) == 2
    words = pdftext.text(pdf)
    assert "Acta de la asamblea · 28/11/2025" in words
    assert "Casa comunal de Peñas" in words and "habló la señora Muñoz" in words
    assert "Techar la cancha con láminas." in words
    assert "Comuna El Maizal · impresa el" in words and "1/2" in words
    letter = client.get(f"/b/maizal/meetings/{mid}/acta.pdf?paper=letter").content
    assert b"/MediaBox [0 0 612.00 792.00]" in letter
    assert b"/MediaBox [0 0 595.28 841.89]" in pdf  # A4


def test_without_a_unicode_font_the_pdf_is_latin1_and_keeps_spanish(
        node: Settings, client: TestClient, monkeypatch: Any) -> None:
    c = build_commune(node)
    mid, _p = _assembly(c)
    monkeypatch.setattr(acta_pdf, "FONT_DIRS", ())
    pdf = client.get(f"/b/maizal/meetings/{mid}/acta.pdf").content
    assert b"/BaseFont /Helvetica" in pdf and b"FontFile2" not in pdf
    words = pdftext.text(pdf)
    assert "habló la señora Muñoz" in words and "Acta de la asamblea" in words
    assert acta_pdf.latin1("Ana “la Ñata” — Ωmega") == 'Ana "la Ñata" - ?mega'


def test_a_decision_acta_names_voters_only_to_members(node: Settings,
                                                      client: TestClient) -> None:
    c = build_commune(node)
    p = _decided_online(c, "Reparación del acueducto")
    ctx_of(client).reload_actors()
    visitor = client.get(f"/p/{p.id}/acta").text
    assert "Reparación del acueducto" in visitor and "«La Peña»" in visitor
    assert "A favor 2 · En contra 1 · Abstenciones 0" in visitor
    assert "Votaron 3 de 5 integrantes" in visitor and "Hubo quórum." in visitor
    assert "Quién votó qué" not in visitor and "Miembro 2" not in visitor
    assert "La huella se recalcula" in visitor
    # The proposal page links to the acta.
    assert f'href="/p/{p.id}/acta"' in client.get(f"/p/{p.id}").text
    login(client, "m3")
    member = client.get(f"/p/{p.id}/acta").text
    assert "Quién votó qué" in member
    assert "Miembro 2" in member and "Muy cara" in member and "Hace falta el agua" in member
    pdf = client.get(f"/p/{p.id}/acta.pdf").content
    words = pdftext.text(pdf)
    assert "Acta de la decisión: Reparación del acueducto" in words
    assert "Muy cara" in words and pdftext.page_count(pdf) >= 1


def test_a_secret_ballot_acta_shows_only_counts(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    p = _decided_online(c, "Elegir la vocería", secret=True)
    login(client, "m0")
    page = client.get(f"/p/{p.id}/acta").text
    assert "Votación secreta: solo se guardaron los totales." in page
    assert "A favor 2 · En contra 1" in page
    assert "Quién votó qué" not in page and "Muy cara" not in page and "Miembro 2" not in page
    words = pdftext.text(client.get(f"/p/{p.id}/acta.pdf").content)
    assert "Votación secreta" in words and "Muy cara" not in words


def test_a_private_body_acta_is_not_there_for_outsiders(node: Settings,
                                                        client: TestClient) -> None:
    c = build_commune(node)
    p = _decided_online(c, "Asunto reservado")
    mid, _held = _assembly(c)
    with c.session() as s:
        s.execute(update(LocalActor).where(col(LocalActor.id) == c.assembly.id)
                  .values(public=False))
        s.commit()
    ctx_of(client).reload_actors()
    for url in (f"/p/{p.id}/acta", f"/p/{p.id}/acta.pdf"):
        r = client.get(url)
        assert r.status_code == 404 and "Asunto reservado" not in r.text
    login(client, "outsider")
    r = client.get(f"/p/{p.id}/acta.pdf")
    assert r.status_code == 404 and not r.content.startswith(b"%PDF")
    r = client.get(f"/b/maizal/meetings/{mid}/acta")
    assert r.status_code == 404 and "Muñoz" not in r.text
    assert client.get(f"/b/maizal/meetings/{mid}/acta.pdf").status_code == 404
    client.cookies.clear()
    login(client, "m1")
    assert "Asunto reservado" in client.get(f"/p/{p.id}/acta").text
    assert "Muñoz" in client.get(f"/b/maizal/meetings/{mid}/acta").text
    # An assembly of another body, or none, has no acta here.
    assert client.get(f"/b/consejo_salud/meetings/{mid}/acta").status_code == 404
    assert client.get(f"/b/maizal/meetings/{mid + 99}/acta").status_code == 404
    # A proposal with no decision has no acta.
    with c.session() as s:
        draft = proposals.create(c.ctx.tx(s, c.people["m0"]), c.assembly, "Borrador", "x",
                                 own_uri=c.ctx.urls.actor("maizal"))
        s.commit()
    assert client.get(f"/p/{draft.id}/acta").status_code == 404


def _federated_note(c: Commune, p: Proposal, tamper: bool) -> dict[str, Any]:
    """The assembly acting as the federation of two councils of this node, which signed
    their mandates and votes: a real signed decision, checked with the node's keys."""
    ctx = c.ctx
    urls = ctx.urls
    with c.session() as s:
        b = bodies.create_body(ctx.tx(s, c.people["facil"]), c.assembly, "consejo_agua",
                               "Consejo del agua", "sectoral_council", Statute())
        s.commit()
    with c.session() as s:
        fed = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        a = s.exec(select(LocalActor).where(LocalActor.handle == "consejo_salud")).one()
        b = s.exec(select(LocalActor).where(LocalActor.handle == "consejo_agua")).one()
        F, A, B = urls.actor(fed.handle), urls.actor(a.handle), urls.actor(b.handle)
        matter = urls.obj("matter-acueducto")
        stamp = "2026-11-28T00:00:00Z"
        ma = matters.sign(urls, a, objects.mandate_object(
            urls.obj("mandate-a"), A, F, matter, 1, "approve", [f"{urls.base}/members/m0"],
            stamp))
        mb = matters.sign(urls, b, objects.mandate_object(
            urls.obj("mandate-b"), B, F, matter, 1, "approve", [f"{urls.base}/members/m1"],
            stamp))
        va = matters.sign(urls, a, objects.vote_object(
            urls.obj("vote-a"), A, matter, 1, ma["id"], f"{urls.base}/members/m0", "for", stamp))
        vb = matters.sign(urls, b, objects.vote_object(
            urls.obj("vote-b"), B, matter, 1, mb["id"], f"{urls.base}/members/m1", "for", stamp))
        result = tally(Statute(), Counts(yes=2, families=2), Electorate(members=2, families=2))
        note = outcomes.decision_note(urls.obj("decision-acueducto"), F, "Acueducto", "<p/>",
                                      matter, 1, result, Statute().to_dict(), {A: 1, B: 1}, [],
                                      [va, vb], [ma, mb], urls.followers("maizal"), stamp)
        if tamper:
            note["votesFor"] = 3  # what the signed votes do not give
            # A vote changed after the water council signed it: its proof fails.
            next(v for v in note["mandatedVotes"] if v["id"] == vb["id"])["choice"] = \
                "against"
        note = matters.sign(urls, fed, note)
        matters.keep(s, note, outcomes.DECISION, F, matter)
        row = s.get(Proposal, p.id)
        assert row is not None
        row.matter, row.final_decision, row.final_outcome = matter, note["id"], "adopted"
        s.add(row)
        s.commit()
    return note


def test_a_federated_decision_acta_checks_mandates_and_votes(node: Settings,
                                                              client: TestClient) -> None:
    c = build_commune(node)
    p = _decided_online(c, "Acueducto compartido")
    _federated_note(c, p, tamper=False)
    ctx_of(client).reload_actors()
    page = client.get(f"/p/{p.id}/acta").text
    assert "Decisión de la federación" in page
    assert "Comuna El Maizal: Aprobada" in page
    assert "Mandatos comprobados: 2 de 2 · votos contados: 2 de 2" in page
    assert "Recuento rehecho: A favor 2 · En contra 0 · Abstenciones 0 · peso total 2" in page
    assert "La decisión se sostiene" in page
    words = pdftext.text(client.get(f"/p/{p.id}/acta.pdf").content)
    assert "Mandatos comprobados: 2 de 2" in words


def test_a_tampered_federated_decision_shows_its_problems(node: Settings,
                                                          client: TestClient) -> None:
    c = build_commune(node)
    p = _decided_online(c, "Acueducto compartido")
    _federated_note(c, p, tamper=True)
    ctx_of(client).reload_actors()
    page = client.get(f"/p/{p.id}/acta").text
    assert "La comprobación encontró problemas:" in page
    # In the reader's language, the body by its name, without the checker's English.
    assert "El voto de Consejo del agua no lleva una firma válida de esa instancia." in page
    assert "La decisión declara 3 votos «A favor»; los votos firmados dan 1." in page
    assert "the decision says" not in page and "vote-b" not in page
    assert "La decisión se sostiene" not in page
    words = pdftext.text(client.get(f"/p/{p.id}/acta.pdf").content)
    assert "Consejo del agua no lleva una firma" in words
    client.cookies.set("lang", "en")
    page = client.get(f"/p/{p.id}/acta").text
    assert "The vote of Consejo del agua does not carry a valid signature of that body." \
        in page
    assert "The decision states 3 votes «For»; the signed votes give 1." in page


def test_the_decisions_page_links_each_acta(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    p = _decided_online(c, "Reparación del acueducto")
    with c.session() as s:
        d = s.exec(select(Decision).where(Decision.proposal_id == p.id)).one()
        assert json.loads(d.record)["ballots"]
    assert f'href="/p/{p.id}/acta"' in client.get("/b/maizal/decisions").text


def test_every_finding_of_the_check_has_words_in_both_languages() -> None:
    """A code the checker can give and the acta cannot word would reach the reader as
    the checker's English."""
    import re
    from pathlib import Path

    from node.web.acta_view import _finding_words
    from node.web.i18n import translator

    source = (Path(__file__).parent.parent / "node" / "federations" /
              "verification.py").read_text()
    codes = set(re.findall(r"""(?:add\(|return \(?|= \()"([a-z]+(?:-[a-z]+)+)",""", source))
    words = _finding_words(lambda text: text)
    assert len(codes) >= 15 and codes == set(words), codes ^ set(words)
    english = _finding_words(translator("en"))
    assert not [c for c in codes if english[c] == words[c]]
