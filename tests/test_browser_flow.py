"""In headless Chromium, on a phone-sized screen, in Spanish: invite → join → propose →
amend → vote → close → decision visible. With COMUNA_TEST_SCREENSHOTS=1, saves a
screenshot of each main page in build/screenshots/ (or COMUNA_SCREENSHOTS)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text

from node.models.base import utcnow
from tests.browser import ARGS, CHROMIUM, PHONE, SHOTS, TAKE_SHOTS, shot
from tests.conftest import Databases
from tests.procnode import NodeProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [
    pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is not installed"),
    pytest.mark.timeout(240),
]
PASSWORD = "contraseña-larga"


def join(page: Page, link: str, username: str, name: str, family: str) -> None:
    page.goto(link)
    page.get_by_label("Usuario").fill(username)
    page.get_by_label("Nombre").fill(name)
    page.get_by_label("Familia (para contar el quórum por familias)").fill(family)
    page.get_by_label("Contraseña (10 caracteres o más)").fill(PASSWORD)
    shot(page, f"join-{username}")
    page.get_by_role("button", name="Crear mi cuenta").click()


PICTURES = ("invite", "body-home", "proposal-new", "proposal-deliberation", "proposal-vote",
            "decision", "decisions", "participation", "members", "profile", "meeting-new",
            "meetings", "economy", "projects")


def test_invite_join_propose_amend_vote_close(tmp_path: Path, databases: Databases) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    for name in PICTURES:  # a picture from an earlier run must not pass for this one's
        (SHOTS / f"{name}.png").unlink(missing_ok=True)
    db_url = databases.new("maizal")
    node = NodeProcess(tmp_path, "maizal", db_url)
    node.start()
    try:
        out = node.comuna("invite", "--role", "facilitator")
        found = re.search(r"invitation token: (\S+)", out)
        assert found, "the pattern is not in the text"
        token = found.group(1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            facil = browser.new_context(**PHONE).new_page()
            join(facil, f"{node.url}/join/{token}", "rosa", "Rosa (facilitadora)", "f1")
            expect(facil.locator("h1")).to_have_text("Maizal")
            facil.get_by_role("link", name="Invitar").click()
            facil.get_by_role("button", name="Crear invitación").click()
            link = facil.locator("#invite-link").inner_text()
            shot(facil, "invite")

            ana = browser.new_context(**PHONE).new_page()
            join(ana, link, "ana", "Ana", "f2")
            shot(ana, "body-home")
            ana.get_by_role("link", name="Nueva propuesta").click()
            ana.get_by_label("Título").fill("Huerto comunal")
            ana.get_by_label("Texto de la propuesta").fill("Sembrar maíz en el terreno baldío.")
            shot(ana, "proposal-new")
            ana.get_by_role("button", name="Guardar borrador").click()
            expect(ana.locator(".state")).to_have_text("Borrador")
            ana.get_by_role("button", name="Abrir la deliberación").click()
            proposal_url = ana.url

            facil.goto(proposal_url)
            facil.get_by_label("Texto completo enmendado").fill(
                "Sembrar maíz y caraota en el terreno baldío, con riego.")
            facil.get_by_label("Por qué").fill("Con riego rinde más")
            facil.get_by_role("button", name="Proponer la enmienda").click()
            facil.get_by_label("Comentario").fill("¿Quién cuida el riego?")
            facil.get_by_role("button", name="Comentar").click()

            ana.goto(proposal_url)
            # Answer the comment in its thread (a <details> form, no JavaScript needed).
            ana.locator("article.comment summary").first.click()
            ana.get_by_label("Respuesta").fill("Lo cuida la brigada juvenil")
            ana.locator("article.comment button", has_text="Responder").first.click()
            expect(ana.locator("article.comment.d1")).to_contain_text("brigada juvenil")
            shot(ana, "proposal-deliberation")
            ana.get_by_role("button", name="Aceptar").click()
            expect(ana.locator("pre.text").first).to_contain_text("caraota")

            facil.goto(proposal_url)
            facil.get_by_role("button", name="Abrir la votación").click()
            for page in (facil, ana):
                page.goto(proposal_url)
                page.get_by_label("A favor").check()
                page.get_by_role("button", name="Votar").click()
                expect(page.locator("main")).to_contain_text("Su voto actual: A favor")
            shot(ana, "proposal-vote")

            # Time passes: the vote's deadline is reached.
            engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
            with engine.begin() as conn:
                conn.execute(text("update proposal set closes_at = :t"),
                             {"t": utcnow() - timedelta(minutes=1)})
            engine.dispose()
            facil.goto(proposal_url)
            if facil.get_by_role("button", name="Cerrar la votación y contar").count():
                facil.get_by_role("button", name="Cerrar la votación y contar").click()
            ana.goto(proposal_url)
            expect(ana.locator("main")).to_contain_text("Aprobada")
            expect(ana.locator("main")).to_contain_text("versión 2")
            shot(ana, "decision")
            facil.goto(proposal_url)
            facil.get_by_label("Estado de la ejecución").select_option("carried_out")
            facil.get_by_label("Notas").fill("Sembrado el sábado")
            facil.get_by_role("button", name="Guardar").click()
            ana.goto(proposal_url)
            ana.get_by_label("Evaluación (1 a 5)").fill("5")
            ana.get_by_role("button", name="Evaluar").click()
            expect(ana.locator(".state")).to_have_text("Evaluada")
            expect(ana.get_by_role("button", name="Evaluar")).to_have_count(0)
            ana.goto(f"{node.url}/b/maizal/decisions")
            expect(ana.locator("main")).to_contain_text("Huerto comunal")
            shot(ana, "decisions")
            ana.goto(f"{node.url}/b/maizal/participation")
            expect(ana.locator("table.part tbody")).to_contain_text("2 / 2")
            shot(ana, "participation")
            ana.goto(f"{node.url}/b/maizal/members")
            shot(ana, "members")
            ana.goto(node.actor)
            expect(ana.locator("article").first).to_contain_text("Huerto comunal")
            shot(ana, "profile")

            # An assembly met in person and decided another matter: the facilitator
            # records attendance, minutes and counts from a phone.
            facil.goto(f"{node.url}/b/maizal/proposals/new")
            facil.get_by_label("Título").fill("Fiesta del barrio")
            facil.get_by_label("Texto de la propuesta").fill("Celebrar la cosecha en la plaza.")
            facil.get_by_role("button", name="Guardar borrador").click()
            facil.get_by_role("button", name="Abrir la deliberación").click()
            expect(facil.locator(".state")).to_have_text("En deliberación")
            facil.goto(f"{node.url}/b/maizal/meetings/new")
            facil.get_by_label("Día y hora en que se reunió").fill("21/11/2026 6:30 p. m.")
            facil.get_by_label("Lugar").fill("Casa comunal")
            facil.get_by_label("Personas presentes").fill("35")
            facil.get_by_label("Acta").fill("Se aprobó la fiesta por amplia mayoría.")
            facil.get_by_label("La asamblea decidió esta propuesta").check()
            facil.get_by_label("A favor").fill("30")
            facil.get_by_label("En contra").fill("3")
            facil.get_by_label("Abstenciones").fill("2")
            shot(facil, "meeting-new")
            # Now and then (about one run in four here) this click never sends the form:
            # no request leaves the page and the node sits idle (seen with its thread
            # dump). Click again only if no POST left, so nothing is recorded twice.
            button = facil.get_by_role("button", name="Registrar la asamblea")
            for attempt in range(3):
                button.scroll_into_view_if_needed()
                try:
                    with facil.expect_request(lambda r: r.method == "POST" and
                                              r.url.endswith("/b/maizal/meetings"),
                                              timeout=15_000):
                        button.click()
                    break
                # A click the page missed times out waiting for the request; one on a
                # page still changing fails. Either way: look why, then click again.
                except PlaywrightError:
                    invalid = facil.evaluate(
                        "() => [...document.querySelectorAll('input, textarea, select')]"
                        ".filter(i => !i.checkValidity())"
                        ".map(i => i.name + '=' + i.value + ': ' + i.validationMessage)")
                    assert not invalid, invalid
                    assert attempt < 2, "the assembly form was never sent"
                    print(f"assembly form not sent on click {attempt + 1}; clicking again")
            facil.wait_for_url(re.compile(r".*/b/maizal/meetings$"), timeout=90_000)
            expect(facil.locator("main")).to_contain_text("Casa comunal", timeout=15_000)
            expect(facil.locator("main")).to_contain_text("35")
            shot(facil, "meetings")
            ana.goto(f"{node.url}/b/maizal/decisions")
            expect(ana.locator("main")).to_contain_text("Fiesta del barrio")
            expect(ana.locator("main")).to_contain_text("asamblea")

            # The economy: the facilitator records an enterprise, publishes an offer
            # and a need that meet inside the commune, and accepts the match.
            facil.goto(f"{node.url}/b/maizal/economy")
            facil.locator("summary", has_text="Registrar una empresa").click()
            form = facil.locator("form[action$='/economy/enterprises']")
            form.get_by_label("Nombre corto").fill("gas")
            form.get_by_label("Nombre", exact=True).fill("Empresa comunal de gas")
            with facil.expect_navigation(timeout=30_000):
                form.get_by_role("button", name="Registrar").click()
            expect(facil.locator("main")).to_contain_text("Empresa comunal de gas")
            for side, qty, unit, enterprise in (("offer", "5", "cylinder", "gas"),
                                                ("need", "20", "kilogram", "")):
                facil.locator("summary", has_text="Publicar una oferta").click()
                form = facil.locator("form[action$='/economy/intents']")
                form.get_by_label("Tipo").select_option(side)
                form.get_by_label("Recurso").select_option(label="Gas doméstico (GLP)")
                form.get_by_label("Cantidad").fill(qty)
                form.get_by_label("Unidad").select_option(unit)
                form.get_by_label("Empresa").select_option(enterprise)
                with facil.expect_navigation(timeout=30_000):
                    form.get_by_role("button", name="Publicar").click()
            expect(facil.locator("main")).to_contain_text("propuesto")
            with facil.expect_navigation(timeout=30_000):
                facil.get_by_role("button", name="Aceptar").click()
            expect(facil.locator("main")).to_contain_text("acordado")
            shot(facil, "economy")
            facil.goto(f"{node.url}/b/maizal/projects")
            shot(facil, "projects")
            browser.close()
    finally:
        node.stop()
    for name in PICTURES if TAKE_SHOTS else ():
        assert (SHOTS / f"{name}.png").stat().st_size > 1000
