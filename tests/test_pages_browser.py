"""The public profile page in a real headless Chromium (Debian's), driven by Playwright:
readable on a small phone screen, with JavaScript off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import ARGS, CHROMIUM, keep_picture
from tests.conftest import Databases
from tests.procnode import NodeProcess

pytestmark = pytest.mark.skipif(
    not CHROMIUM, reason="Debian's chromium is not installed (test.sh installs it as root)")

@pytest.fixture
def served(tmp_path: Path, databases: Databases) -> Iterator[NodeProcess]:
    node = NodeProcess(tmp_path, "maizal", databases.new("maizal"))
    node.start()
    node.comuna("post", "Asamblea el sábado a las 9.\n\nTraigan propuestas <escritas>.")
    yield node
    node.stop()


def test_profile_page_on_a_small_phone_without_javascript(served: NodeProcess,
                                                          tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 360, "height": 640},
                                    java_script_enabled=False, locale="es-VE")
            response = page.goto(served.actor)
            assert response is not None and response.status == 200
            assert page.locator("h1").inner_text() == "Maizal"
            assert page.locator("html").get_attribute("lang") == "es"
            assert "@maizal@127.0.0.1" in page.locator("header").inner_text()
            article = page.locator("article").first
            assert "Asamblea el sábado" in article.inner_text()
            assert "<escritas>" in article.inner_text()  # escaped, shown as text
            assert page.locator("article script, article b").count() == 0
            keep_picture(page, tmp_path / "profile.png", full_page=True)
        finally:
            browser.close()

    # No horizontal scrolling at 360 px: measured with JavaScript on, in a second page.
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 360, "height": 640})
            page.goto(served.actor)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360
            # A browser asking the same URL gets HTML; a server gets the actor.
            assert page.evaluate("document.contentType") == "text/html"
        finally:
            browser.close()
