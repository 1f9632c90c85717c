"""What a picture of a page costs the suite: Debian's Chromium, started as the page
tests start it (tests/browser.py), loads one long local page 20 times, then 20 times
with a screenshot after each (full page and viewport PNG, full-page JPEG). Prints the
CPU of every process on the machine per step, so run it on a quiet machine.

    cd bench && ../.venv/bin/python screenshot_cost.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import machine_cpu

from tests.browser import ARGS, CHROMIUM, PHONE

PAGE = "<html><body>" + "".join(
    f"<p>Párrafo {i} del acta de la asamblea comunal y sus decisiones.</p>"
    "<button>Votar</button>" for i in range(80)) + "</body></html>"


def main() -> None:
    from playwright.sync_api import sync_playwright

    out = Path(tempfile.mkdtemp(prefix="shots-"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(**PHONE).new_page()
        page.set_content(PAGE)
        steps: list[tuple[str, dict[str, Any] | None]] = [
            ("page only", None), ("full-page PNG", {"full_page": True}),
            ("viewport PNG", {}), ("full-page JPEG q70",
                                   {"full_page": True, "type": "jpeg", "quality": 70})]
        for name, shot in steps:
            cpu, wall = machine_cpu(), time.monotonic()
            for i in range(20):
                page.set_content(PAGE + f"<p>{i}</p>")
                if shot is not None:
                    suffix = "jpg" if shot.get("type") == "jpeg" else "png"
                    page.screenshot(path=str(out / f"{i}.{suffix}"), **shot)
            print(f"{name:20s} {(time.monotonic() - wall) * 50:6.0f} ms wall, "
                  f"{(machine_cpu() - cpu) * 50:6.0f} ms CPU each")
        print("page height:", page.evaluate("document.documentElement.scrollHeight"), "px")
        browser.close()


if __name__ == "__main__":
    main()
