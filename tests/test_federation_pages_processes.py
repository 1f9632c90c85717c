"""Joining a city and carrying a mandate from the pages, between two real nodes: a
commune's coordinator asks to join by address, the city's coordinators see the request
by the commune's name and accept it on their page, and the commune's page then names
its city. A spokesperson's vote sent before the city opened its vote comes back
refused, with its reason, on the mandate."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.citypair import Browser, ensure_joined, pair, visible  # noqa: F401
from tests.pageforms import PASSWORD
from tests.procnode import NodeProcess, wait_for

pytestmark = [pytest.mark.federation, pytest.mark.timeout(240)]


def test_a_commune_joins_a_city_from_the_pages(pair: dict[str, Any]) -> None:  # noqa: F811
    # Named here, NodeProcess keeps this module among those tests/conftest.py runs as nodes.
    city: NodeProcess = pair["city"]
    commune: NodeProcess = pair["commune"]
    rosa = Browser(commune, "rosa")
    page = "/b/maizal/federation"
    before = visible(rosa.get(page))
    assert "No pertenece a ninguna federación todavía." in before
    # An address nobody answers for is refused in Spanish, next to the field, kept.
    r = rosa.post(page, f"{page}/join", federation="@nadie@127.0.0.1:9")
    assert 'data-status="422"' in r.text and 'value="@nadie@127.0.0.1:9"' in r.text
    assert "No se encontró la federación en esa dirección" in r.text
    host = city.url.removeprefix("http://")
    r = rosa.post(page, f"{page}/join", federation=f"@ciudad_sur@{host}")
    assert "Solicitud enviada. La federación la decidirá." in r.text
    text = visible(r.text)
    assert "Ciudad_Sur" in text and "esperando su respuesta" in text
    assert city.url not in text

    head = Browser(city, "rosa")
    fed_page = "/b/ciudad_sur/federation"
    wait_for(lambda: "Solicitudes de ingreso" in head.get(fed_page), 30, "the request arrives")
    html = head.get(fed_page)
    assert "Maizal" in visible(html) and commune.url not in visible(html)
    assert "Sin miembros todavía." in visible(html)  # true: nobody accepted yet
    link = re.search(r'action="(/b/ciudad_sur/federation/requests/\d+)"', html)
    assert link
    # The API says the same, with the name and what the coordinator may do.
    [waiting] = httpx.get(f"{city.url}/api/v1/bodies/ciudad_sur/federation-members",
                          headers=pair["city_head"]).json()["items"]
    assert waiting["name"] == "Maizal" and waiting["actions"] == ["accept", "refuse"]
    r = head.post(fed_page, link.group(1), answer="accept")
    text = visible(r.text)
    assert "Aceptada: Maizal ya es miembro." in text
    assert "Sin miembros todavía." not in text and "Solicitudes de ingreso" not in text

    wait_for(lambda: "Miembro" in visible(rosa.get(page)), 30, "the commune hears the answer")
    text = visible(rosa.get(page))
    assert "Ciudad_Sur" in text and "esperando" not in text and city.url not in text
    assert "Sin miembros todavía." not in text  # a commune in a city: nothing to say
    [joined] = httpx.get(f"{commune.url}/api/v1/bodies/maizal/federations",
                         headers=pair["commune_head"]).json()["items"]
    assert (joined["name"], joined["state"], joined["actions"]) == ("Ciudad_Sur", "accepted", [])
    # An ordinary visitor is offered neither joining nor answering.
    anon = httpx.get(f"{city.url}{fed_page}").text
    assert "/federation/join" not in anon and "/federation/requests/" not in anon


def test_a_proposal_written_on_the_web_names_the_bodies_it_affects(
        pair: dict[str, Any]) -> None:  # noqa: F811
    city, commune = pair["city"], pair["commune"]
    ensure_joined(pair)
    rosa = Browser(commune, "rosa")
    form_page = "/b/maizal/proposals/new"
    html = rosa.get(form_page)
    # The city, by its name, is offered; our own body is not.
    offered = re.findall(r'name="(affects-\d+)" value="([^"]+)"', html)
    assert [uri for _, uri in offered] == [city.actor]
    assert "Ciudad_Sur" in visible(html) and city.url not in visible(html)
    name = offered[0][0]
    r = rosa.post(form_page, "/b/maizal/proposals", title="Ruta comunal",
                  text="Una ruta de transporte entre la comuna y la ciudad.", **{name: city.actor})
    proposal = str(r.url)
    assert re.search(r"/p/\d+$", proposal), r.url
    r = rosa.post(proposal, f"{proposal}/deliberation")
    # Opening deliberation sends it up on its own; the page says where, by name.
    wait_for(lambda: "Subió a Ciudad_Sur" in visible(rosa.get(proposal)), 30, "sent up")

    # A proposal that affects only this body is not sent, and the page says why.
    r = rosa.post(form_page, "/b/maizal/proposals", title="Huerto",
                  text="Un huerto en la casa comunal.")
    local = str(r.url)
    rosa.post(local, f"{local}/deliberation")
    html = rosa.get(local)
    assert "Enviar a la federación que corresponde" in html
    r = rosa.post(local, f"{local}/send-up")
    assert "No se envió: esta propuesta solo afecta a esta instancia" in r.text


def test_the_federation_pages_fit_a_phone(pair: dict[str, Any]) -> None:  # noqa: F811
    """At 360 px, in Chromium: no horizontal scroll and buttons one can tap (44 px), on
    the pages this module fills, for the commune's coordinator and the city's."""
    from tests.browser import ARGS, CHROMIUM, PHONE, shot

    if not CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    ensure_joined(pair)
    city, commune = pair["city"], pair["commune"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for node, handle in ((commune, "maizal"), (city, "ciudad_sur")):
                page = browser.new_context(**PHONE).new_page()
                page.goto(f"{node.url}/login")
                page.get_by_label("Usuario").fill("rosa")
                page.get_by_label("Contraseña").fill(PASSWORD)
                page.get_by_role("button", name="Entrar").click()
                paths = [f"/b/{handle}/federation", f"/b/{handle}/proposals/new"]
                paths += [f"/p/{pid}" for pid in sorted({int(x) for x in re.findall(
                    r'href="/p/(\d+)"', httpx.get(f"{node.url}/b/{handle}").text)})][:3]
                for path in paths:
                    page.goto(f"{node.url}{path}")
                    shot(page, f"federation-{handle}-{path.strip('/').replace('/', '-')}")
                    for button in page.locator("main button").all():
                        box = button.bounding_box()
                        assert box is None or box["height"] >= 44, (path, button.inner_text())
        finally:
            browser.close()
