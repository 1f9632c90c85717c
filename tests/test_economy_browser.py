"""The economy and project bank pages on a 360 px phone, in Chromium: no sideways
scrolling with every form open, and every button, field and summary at least 44 px
tall. The pages are rendered by the app (TestClient) and laid out by the browser
from their HTML (their styles are inline), in Spanish and in English; screenshots
are kept under build/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.config import Settings
from node.models import Exchange
from tests.browser import ARGS, CHROMIUM
from tests.conftest import ctx_of
from tests.economy_net import NS
from tests.economy_page import post
from tests.govfixtures import build_commune
from tests.pageforms import csrf, login

pytestmark = pytest.mark.skipif(
    not CHROMIUM, reason="Debian's chromium is not installed (test.sh installs it as root)")

SHOTS = Path(__file__).parent.parent / "build" / "screenshots"

MEASURE = """() => {
  for (const d of document.querySelectorAll('details')) d.open = true;
  const small = [];
  for (const el of document.querySelectorAll(
      'main button, main select, main input:not([type=hidden]), main textarea, main summary')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height < 44) small.push(el.outerHTML.slice(0, 80) + ' ' + r.height);
  }
  return {width: document.documentElement.scrollWidth, small: small};
}"""


def _pages(client: TestClient) -> dict[str, str]:
    """The economy page with a match, a delivery and a plan; the project bank with a
    record; in both languages."""
    post(client, "/b/maizal/economy/enterprises", {"slug": "gas", "name": "Empresa de gas"})
    post(client, "/b/maizal/economy/intents",
         {"side": "offer", "kind": NS + "gas", "quantity": "3", "unit": "cylinder",
          "enterprise": "gas", "summary": "bombonas de la planta de llenado"})
    post(client, "/b/maizal/economy/intents",
         {"side": "need", "kind": NS + "gas", "quantity": "20", "unit": "kilogram"})
    with Session(ctx_of(client).engine) as s:
        ex = s.exec(select(Exchange)).one()
    post(client, f"/b/maizal/economy/exchanges/{ex.id}/answer", {"accept": "1"})
    post(client, "/b/maizal/economy/plans", {
        "title": "Vivero comunal", "process": "Sembrar", "side0": "inputs",
        "action0": "work", "kind0": NS + "tractor-work", "quantity0": "6", "unit0": "hour"})
    page = client.get("/b/maizal/projects")
    client.post("/b/maizal/projects", data={
        "csrf": csrf(page.text), "title": "Huerto escolar", "sector": "alimentación",
        "problem": "Niños sin verduras frescas en la escuela del sector."})
    out = {}
    for lang in ("es", "en"):
        page = client.get("/b/maizal/economy")
        client.post("/language", data={"csrf": csrf(page.text), "lang": lang,
                                       "next": "/b/maizal/economy"})
        for name in ("economy", "projects"):
            out[f"{name}-{lang}"] = client.get(f"/b/maizal/{name}").text
    return out


def test_the_economy_pages_fit_a_phone(node: Settings, client: TestClient) -> None:
    from playwright.sync_api import sync_playwright

    build_commune(node)
    login(client, "facil")
    pages = _pages(client)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 360, "height": 640})
            for name, html in pages.items():
                tab.set_content(html)
                got = tab.evaluate(MEASURE)
                assert got["width"] <= 360, (name, got["width"])
                assert got["small"] == [], (name, got["small"])
                tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        finally:
            browser.close()
    for name in pages:
        assert (SHOTS / f"{name}.png").stat().st_size > 1000
