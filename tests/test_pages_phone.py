"""Every page on a 360 px phone, in Debian's headless Chromium driven by Playwright, as
a visitor, an integrante and a coordinator, in Spanish and in English: nothing wider
than the screen, every control at least 44 px tall; a screenshot of each, in Spanish,
is kept under build/screenshots/ to look at (in both languages a third of the walk's
time went to the pictures)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from node.app import create_app
from node.config import load_settings
from tests.browser import ARGS, CHROMIUM, MEASURE, SHOTS, keep_picture, slug
from tests.conftest import Databases
from tests.pagetour import fill, inner_app, page_routes
from tests.procnode import NodeProcess
from tests.tourcommune import seed

pytestmark = pytest.mark.skipif(
    not CHROMIUM, reason="Debian's chromium is not installed (.ci/run installs it)")

PASSWORD = "contraseña-larga"



@pytest.fixture
def served(tmp_path: Path, databases: Databases
           ) -> Iterator[tuple[NodeProcess, dict[str, str], list[str]]]:
    node = NodeProcess(tmp_path, "maizal", databases.new("maizal"))
    settings = load_settings(node.data_dir)
    ids = seed(settings)
    with TestClient(create_app(settings)) as client:
        paths = page_routes(inner_app(client))
    node.start()
    yield node, ids, paths
    node.stop()


def login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")


def test_every_page_fits_a_phone_in_both_languages(
        served: tuple[NodeProcess, dict[str, str], list[str]]) -> None:
    from playwright.sync_api import sync_playwright

    node, ids, paths = served
    # Screenshots are named by the route (and the proposal's state), not by tokens.
    urls = [(p, fill(p, ids)) for p in paths] + [
        (f"/p/{k}", f"/p/{ids[k]}") for k in ("draft", "talk", "decided", "pid")]
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for who in ("visitor", "m0", "facil"):
                for lang in ("es", "en"):
                    context = browser.new_context(viewport={"width": 360, "height": 740},
                                                  locale="es-VE")
                    context.add_cookies([{"name": "lang", "value": lang, "url": node.url}])
                    page = context.new_page()
                    if who != "visitor":
                        login(page, node.url, who)
                        page.goto(f"{node.url}/b/maizal")
                        page.select_option("#lang-select", lang)
                        page.click("form[action='/language'] button[type=submit]")
                    for name, url in urls:
                        response = page.goto(node.url + url)
                        if response is None or "text/html" not in \
                                response.headers.get("content-type", ""):
                            continue
                        found = page.evaluate(MEASURE)
                        if found["width"] > 360:
                            problems.append(f"{who} {lang} {url}: {found['width']} px wide")
                        problems += [f"{who} {lang} {url}: {b}" for b in found["bad"]]
                        if lang == "es":  # a picture costs a third of the walk
                            keep_picture(page, SHOTS / f"{who}-{slug(name)}.png",
                                         full_page=True)
                    context.close()
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
