"""A commune set up and federated from a phone, pages only: Chromium at 360 px, Spanish,
JavaScript off, three real nodes (the commune "maizal", the city "ciudad_sur", and a
second commune "cerro" so that a proposal has a neighbour to name). After the first
coordinator's /join/ link (what run.sh prints), every step is a click or a keystroke:
no API call, no database. Each step checks the page's confirmation, that nothing is
wider than the screen, and keeps a screenshot in build/screenshots/walk-NN-*.png. Then
an ordinary integrante walks every page linked from the commune's and is offered no
coordination action, only what she may do (propose, comment, vote)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import ARGS, CHROMIUM, PHONE, SHOTS, keep_picture
from tests.conftest import Databases
from tests.pagetour import FILES
from tests.procnode import NodeProcess

pytestmark = [
    pytest.mark.federation,
    pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is not installed"),
    pytest.mark.timeout(240),
]
PASSWORD = "contraseña-larga"
COMMUNE, CITY = "Comuna El Maizal", "Ciudad Comunal del Sur"

# Forms and links of the coordination: an integrante must be offered none of them.
COORDINATION_FORMS = re.compile(
    r"/admin|/invitations|/federation/(join|requests)|/vote-open$|/close$|/meetings$|"
    r"/mandates?\b|/send-up$|/execution$|/economy/enterprises$|/projects/\d+/adopt$")
COORDINATION_LINKS = re.compile(r"/admin|/invitations|/meetings/new")
COORDINATION_WORDS = ("Configuración", "Invitar", "Crear invitación", "Pedir el ingreso",
                      "Abrir la votación", "Cerrar la votación", "Nombrar en la coordinación",
                      "Registrar una asamblea", "Solicitudes de ingreso")


class Walk:
    """Numbered screenshots, and the checks every page of the walk passes."""

    def __init__(self) -> None:
        self.n = 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        for old in SHOTS.glob("walk-*.png"):
            old.unlink()

    def shot(self, page: Any, name: str) -> None:
        self.n += 1
        keep_picture(page, SHOTS / f"walk-{self.n:02d}-{name}.png", full_page=True)
        # Scripts are off in these pages; the measurement runs outside them.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{page.url}: {width} px wide"


def said(page: Any, sentence: str) -> None:
    """The page confirms what happened, in Spanish, in its status notice."""
    from playwright.sync_api import expect

    expect(page.locator("[role=status]").first).to_contain_text(sentence)


def reload_until(page: Any, text: str | re.Pattern[str], what: str,
                 timeout: float = 30) -> None:
    """Reload (as a person would) until the page's main text shows `text`."""
    import time

    def shown() -> bool:
        main = page.locator("main").inner_text()
        return text in main if isinstance(text, str) else text.search(main) is not None

    deadline = time.monotonic() + timeout
    while not shown():
        assert time.monotonic() < deadline, f"{what}: «{text}» not on {page.url}"
        time.sleep(0.3)
        page.reload()


def create_account(page: Any, link: str, username: str, name: str, family: str) -> None:
    page.goto(link)
    page.get_by_label("Usuario").fill(username)
    page.get_by_label("Nombre").fill(name)
    page.get_by_label("Familia (para contar el quórum por familias)").fill(family)
    page.get_by_label("Contraseña (10 caracteres o más)").fill(PASSWORD)
    page.get_by_role("button", name="Crear mi cuenta").click()
    said(page, "Bienvenida o bienvenido: su cuenta quedó creada.")


def first_coordinator(node: NodeProcess) -> str:
    """The link `comuna invite --role facilitator` prints (run.sh shows it to whoever
    started the node)."""
    found = re.search(r"(https?://\S+/join/\S+)", node.comuna("invite", "--role",
                                                              "facilitator"))
    assert found, "comuna invite printed no /join/ link"
    return found.group(1)


def section(page: Any, name: str) -> None:
    """Follow one of the body page's section links."""
    page.locator("p.sections").get_by_role("link", name=name, exact=True).click()


def rename(page: Any, walk: Walk, handle: str, name: str, summary: str) -> None:
    section(page, "Configuración")
    page.locator("#name").fill(name)
    page.locator("#summary").fill(summary)
    page.locator("form[action$='/admin/profile'] button").click()
    said(page, "Se guardaron el nombre y la descripción.")
    walk.shot(page, f"{handle}-name")
    page.get_by_role("link", name=name).first.click()
    from playwright.sync_api import expect

    expect(page.locator("h1")).to_have_text(name)


def ask_to_join(page: Any, walk: Walk, handle: str, city: NodeProcess) -> None:
    section(page, "Federación")
    page.get_by_label(re.compile("Pedir el ingreso a una federación")).fill(
        f"@ciudad_sur@{city.url.removeprefix('http://')}")
    page.get_by_role("button", name="Pedir el ingreso").click()
    said(page, "Solicitud enviada. La federación la decidirá.")
    main = page.locator("main").inner_text()
    assert CITY in main and "esperando su respuesta" in main, main
    walk.shot(page, f"{handle}-join-asked")


def accept_request(page: Any, walk: Walk, city: NodeProcess, name: str) -> None:
    """The city's coordinator sees the request by the commune's name in the pending list
    of the city's page, follows it and accepts."""
    page.goto(f"{city.url}/b/ciudad_sur")
    reload_until(page, name, f"the request of {name} reaches the city")
    pending = page.locator("section[aria-labelledby=pending-title]")
    assert "Solicitud para unirse" in pending.inner_text()
    walk.shot(page, f"city-pending-{name.split()[-1].lower()}")
    pending.get_by_role("link", name=name).click()
    request = page.locator("li.item", has_text=name).filter(
        has=page.get_by_role("button", name="Aceptar"))
    request.get_by_role("button", name="Aceptar").click()
    said(page, f"Aceptada: {name} ya es miembro.")
    walk.shot(page, f"city-accepted-{name.split()[-1].lower()}")


def propose(page: Any, title: str, text: str, affects: tuple[str, ...] = ()) -> None:
    section(page, "Nueva propuesta")
    page.get_by_label("Título").fill(title)
    page.get_by_label("Texto de la propuesta").fill(text)
    for name in affects:
        page.locator("fieldset.affects").get_by_label(name, exact=True).check()
    page.get_by_role("button", name="Guardar borrador").click()
    from playwright.sync_api import expect

    expect(page.locator(".state")).to_have_text("Borrador")
    assert re.search(r"/p/\d+$", page.url), page.url


def only_what_an_integrante_may(page: Any, where: str) -> None:
    main = page.locator("main")
    text = main.inner_text()
    for word in COORDINATION_WORDS:
        assert word not in text, f"{where}: «{word}» offered to an integrante"
    actions = main.locator("form").evaluate_all("fs => fs.map(f => f.getAttribute('action'))")
    assert not [a for a in actions if COORDINATION_FORMS.search(a or "")], (where, actions)
    links = main.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert not [a for a in links if COORDINATION_LINKS.search(a or "")], (where, links)


@pytest.fixture
def nodes(tmp_path: Path, databases: Databases) -> Iterator[dict[str, NodeProcess]]:
    made = {"maizal": NodeProcess(tmp_path, "maizal", databases.new("maizal")),
            "city": NodeProcess(tmp_path, "ciudad_sur", databases.new("ciudad_sur"),
                                level="city"),
            "cerro": NodeProcess(tmp_path, "cerro", databases.new("cerro"))}
    errors: list[BaseException] = []

    def start(node: NodeProcess) -> None:
        try:
            node.start()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    starting = [threading.Thread(target=start, args=(n,)) for n in made.values()]
    for t in starting:
        t.start()
    for t in starting:
        t.join()
    try:
        assert not errors, errors
        yield made
    finally:
        for node in made.values():
            node.stop()


def test_a_coordinator_sets_up_and_federates_a_commune_from_a_phone(
        nodes: dict[str, NodeProcess]) -> None:
    from playwright.sync_api import expect, sync_playwright

    maizal, city, cerro = nodes["maizal"], nodes["city"], nodes["cerro"]
    links = {h: first_coordinator(n) for h, n in nodes.items()}
    walk = Walk()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ana, luis, pedro, rosa = (browser.new_context(**PHONE).new_page()
                                      for _ in range(4))

            # 1. The first coordinator of each node creates the account from the link.
            create_account(ana, links["maizal"], "ana", "Ana Pérez", "f1")
            expect(ana.locator("h1")).to_have_text("Maizal")
            walk.shot(ana, "first-coordinator")
            create_account(luis, links["city"], "luis", "Luis Rivas", "c1")
            create_account(pedro, links["cerro"], "pedro", "Pedro Mora", "k1")

            # 2. The commune's name, two councils, the statute, a new integrante.
            rename(ana, walk, "maizal", COMMUNE,
                   "Comuna agrícola de la parroquia, con cinco consejos comunales.")
            for kind, name in (("Consejo comunal", "Consejo Comunal Los Cedros"),
                               ("Parlamento comunal", "Parlamento Comunal El Maizal")):
                section(ana, "Configuración")
                ana.get_by_label("Tipo").select_option(label=kind)
                ana.locator("#new-name").fill(name)
                ana.get_by_role("button", name="Crear", exact=True).click()
                said(ana, "Se creó la instancia; usted la coordina.")
                expect(ana.locator("h1")).to_have_text(name)
                assert kind in ana.locator("main p.meta").nth(1).inner_text()
                walk.shot(ana, "council" if kind == "Consejo comunal" else "parliament")
                ana.get_by_role("link", name=COMMUNE).first.click()
            inside = ana.locator("main ul", has=ana.get_by_role("link", name="Consejo Comunal "
                                                                 "Los Cedros"))
            expect(inside).to_contain_text("Consejo comunal")
            expect(inside.get_by_role("link", name="Parlamento Comunal El Maizal")).to_have_count(1)
            expect(inside).to_contain_text("Parlamento comunal")
            walk.shot(ana, "commune-councils")

            section(ana, "Configuración")
            ana.get_by_role("link", name="Cambiar el estatuto").click()
            ana.get_by_label("Cómo se aprueba una propuesta").select_option("qualified")
            ana.get_by_label("Para la mayoría calificada, qué parte de los votos").select_option(
                label="dos tercios")
            ana.get_by_label("El quórum se cuenta por").select_option("families")
            ana.get_by_label("Quórum: participación mínima (%)").fill("50")
            ana.get_by_label("Días de votación").fill("5")
            ana.get_by_role("button", name="Ver cómo queda").click()
            rule = ("Se aprueba con al menos 66,7\u00a0% de los votos a favor, si participa "
                    "al menos el 50\u00a0% de las familias. La votación dura 5 días.")
            said(ana, "Así quedaría: " + rule)
            walk.shot(ana, "statute-preview")
            ana.get_by_role("button", name="Guardar el estatuto").click()
            said(ana, "Estatuto guardado: " + rule)
            walk.shot(ana, "statute-saved")

            ana.get_by_role("link", name=COMMUNE).first.click()
            expect(ana.locator("main")).to_contain_text(rule)
            section(ana, "Invitar")
            ana.get_by_role("button", name="Crear invitación").click()
            said(ana, "Invitación creada.")
            invitation = ana.locator("#invite-link").inner_text().strip()
            walk.shot(ana, "invitation")
            create_account(rosa, invitation, "rosa", "Rosa Guzmán", "f2")
            expect(rosa.locator("h1")).to_have_text(COMMUNE)
            walk.shot(rosa, "rosa-welcome")
            ana.goto(f"{maizal.url}/b/maizal")
            expect(ana.locator("main p.meta").first).to_contain_text("2 integrantes")
            walk.shot(ana, "commune-two-members")

            # 3. The city has a name; the commune asks to join by the city's address,
            # the city's coordinator accepts it by the commune's name.
            rename(luis, walk, "city", CITY, "Ciudad comunal de las comunas del sur.")
            ask_to_join(ana, walk, "maizal", city)
            accept_request(luis, walk, city, COMMUNE)
            reload_until(ana, "Miembro", "the commune hears the answer")
            fed = ana.locator("main").inner_text()
            assert CITY in fed and "esperando" not in fed and city.url not in fed, fed
            walk.shot(ana, "maizal-member-of-city")
            # A second commune joins the same way: the neighbour a proposal can name.
            ask_to_join(pedro, walk, "cerro", city)
            accept_request(luis, walk, city, "Cerro")

            # 4. A proposal that affects Cerro, ticked by name, goes up to the city.
            ana.goto(f"{maizal.url}/b/maizal")
            title = "Ruta de transporte entre Maizal y Cerro"
            section(ana, "Nueva propuesta")
            offered = ana.locator("fieldset.affects").inner_text()
            assert "Cerro" in offered and CITY in offered and cerro.url not in offered, offered
            walk.shot(ana, "proposal-new-neighbours")
            ana.go_back()
            propose(ana, title, "Una ruta de autobús comunal que una a las dos comunas.",
                    affects=("Cerro",))
            # The page names what the proposal affects beyond the commune, and only that.
            expect(ana.locator("main")).to_contain_text("Afecta también a: Cerro")
            assert "Comuna El Maizal" not in ana.locator("main p.meta").filter(
                has_text="Afecta").inner_text()
            walk.shot(ana, "proposal-draft")
            ana.get_by_role("button", name="Abrir la deliberación").click()
            said(ana, "La deliberación quedó abierta.")
            # Opening the deliberation sends a matter beyond the commune up by itself;
            # the button to send it is then no longer offered, and the page says where.
            # (Once the city passes the matter back to its members, the line becomes
            # the commune's mandate before the city: either names the city.) Our copy
            # of Cerro may predate its join by a moment: the page then says it is
            # waiting and retrying, and a reload a few seconds later shows it sent.
            reload_until(ana, re.compile(
                f"(Subió a|Nuestra decisión es el mandato ante) {CITY}"),
                "the matter goes up", timeout=45)
            expect(ana.get_by_role("button", name="Enviar a la federación que corresponde")
                   ).to_have_count(0)
            walk.shot(ana, "proposal-sent-up")
            federated = ana.url
            luis.goto(f"{city.url}/b/ciudad_sur")
            reload_until(luis, title, "the matter reaches the city")
            walk.shot(luis, "city-matter")
            luis.get_by_role("link", name=title).click()
            expect(luis.locator("main")).to_contain_text("Votan las instancias miembros")
            walk.shot(luis, "city-matter-page")
            # The city passes it to its member communes: Cerro, the neighbour named, has
            # it to decide; Maizal's own proposal becomes its position before the city.
            pedro.goto(f"{cerro.url}/b/cerro")
            reload_until(pedro, title, "the matter reaches the neighbour")
            walk.shot(pedro, "neighbour-matter")
            ana.goto(federated)
            reload_until(ana, f"Nuestra decisión es el mandato ante {CITY}",
                         "the city passes the matter back to the commune")
            walk.shot(ana, "proposal-mandate-before-city")

            # A matter of the commune alone, taken to a vote, for the integrante to vote.
            ana.goto(f"{maizal.url}/b/maizal")
            propose(ana, "Huerto en la casa comunal", "Sembrar maíz y caraota en el patio.")
            ana.get_by_role("button", name="Abrir la deliberación").click()
            said(ana, "La deliberación quedó abierta.")
            # Not sent up on its own (it names no other body); asked to, the page says why.
            ana.get_by_role("button", name="Enviar a la federación que corresponde").click()
            said(ana, "No se envió: esta propuesta solo afecta a esta instancia")
            expect(ana.locator(".state")).to_have_text("En deliberación")
            ana.get_by_role("button", name="Abrir la votación").click()
            said(ana, "La votación quedó abierta.")
            walk.shot(ana, "local-vote-open")

            # 5. Rosa, an integrante: every page linked from the commune's offers her
            # no coordination action, and what she may do is there.
            rosa.goto(f"{maizal.url}/b/maizal")
            only_what_an_integrante_may(rosa, "commune page")
            expect(rosa.locator("p.sections").get_by_role("link", name="Nueva propuesta")
                   ).to_have_count(1)
            walk.shot(rosa, "rosa-commune")
            hrefs = rosa.locator("main a").evaluate_all(
                "as => as.map(a => a.getAttribute('href'))")
            seen = {"/b/maizal"}
            for href in hrefs:
                path = href.removeprefix(maizal.url)
                if not path.startswith("/") or path in seen or FILES.search(path):
                    continue  # a calendar feed or an export is a file, not a page
                seen.add(path)
                rosa.goto(maizal.url + path)
                only_what_an_integrante_may(rosa, path)
                walk.shot(rosa, "rosa-" + (re.sub(r"[^a-z0-9]+", "-", path.lower())
                                           .strip("-")))
            assert {"/b/maizal/federation", "/b/maizal/economy",
                    "/b/maizal/proposals/new"} <= seen, seen
            rosa.goto(federated)
            rosa.get_by_label("Comentario").fill("¿Cuántas paradas tendría la ruta?")
            rosa.get_by_role("button", name="Comentar").click()
            said(rosa, "Su comentario quedó publicado.")
            expect(rosa.locator("article.comment")).to_contain_text("paradas")
            only_what_an_integrante_may(rosa, "federated proposal after commenting")
            rosa.goto(f"{maizal.url}/b/maizal")
            rosa.get_by_role("link", name="Huerto en la casa comunal").first.click()
            rosa.get_by_label("A favor").check()
            rosa.get_by_role("button", name="Votar").click()
            said(rosa, "Su voto quedó registrado.")
            expect(rosa.locator("main")).to_contain_text("Su voto actual: A favor")
            only_what_an_integrante_may(rosa, "local proposal after voting")
            walk.shot(rosa, "rosa-voted")
        finally:
            browser.close()
    assert walk.n >= 20
