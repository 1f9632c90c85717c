"""Reloading the page that shows a new invitation, in a real Chromium (Debian's) on a
phone-sized screen with JavaScript off: the browser sends the form again, and still
only one invitation exists; the same link is on the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import ARGS, CHROMIUM, PHONE
from tests.conftest import Databases
from tests.procnode import NodeProcess

pytestmark = [pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is not installed"),
              pytest.mark.timeout(120)]


@pytest.fixture
def served(tmp_path: Path, databases: Databases) -> Iterator[NodeProcess]:
    node = NodeProcess(tmp_path, "maizal", databases.new("maizal"))
    node.start()
    yield node
    node.stop()


def test_reloading_a_new_invitation_makes_no_second_one(served: NodeProcess) -> None:
    from playwright.sync_api import expect, sync_playwright

    found = re.search(r"(https?://\S+/join/\S+)", served.comuna("invite", "--role",
                                                                "facilitator"))
    assert found, "comuna invite printed no /join/ link"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(**PHONE).new_page()
            page.goto(found.group(1))
            page.get_by_label("Usuario").fill("ana")
            page.get_by_label("Nombre").fill("Ana Pérez")
            page.get_by_label("Contraseña (10 caracteres o más)").fill("contraseña-larga")
            page.get_by_role("button", name="Crear mi cuenta").click()
            page.goto(served.url + "/b/maizal/invitations")
            page.get_by_role("button", name="Crear invitación").click()
            expect(page.locator("[role=status]").first).to_contain_text("Invitación creada.")
            link = page.locator("#invite-link").inner_text().strip()
            waiting = page.locator("li.inv", has_text="pendiente")
            # The first coordinator's own invitation is used; the new one waits.
            expect(waiting).to_have_count(1)

            response = page.reload()  # Chromium sends the POST again
            assert response is not None and response.request.method == "POST"
            expect(waiting).to_have_count(1)
            assert page.locator("#invite-link").inner_text().strip() == link
            expect(page.locator("[role=status]").first).to_contain_text("no se creó otra")

            page.goto(served.url + "/b/maizal/invitations")
            expect(page.locator("li.inv", has_text="pendiente")).to_have_count(1)
            expect(page.locator("#invite-link")).to_have_count(0)  # shown to that form only
        finally:
            browser.close()
