"""What the browser tests share: Debian's Chromium, how it is started, a phone's
viewport, where screenshots go, and the measure every page must pass on a phone."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("COMUNA_CHROMIUM") or shutil.which("chromium") or ""
# For the modules that drive it: `pytestmark = needs_chromium`.
needs_chromium = pytest.mark.skipif(
    not CHROMIUM, reason="Debian's chromium is not installed (.ci/run installs it)")

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

PHONE: dict[str, Any] = {"viewport": {"width": 360, "height": 740}, "java_script_enabled": False,
                         "locale": "es-VE"}

SHOTS = Path(os.environ.get("COMUNA_SCREENSHOTS",
                            Path(__file__).parent.parent / "build" / "screenshots"))
# Pictures of the pages for people to look at (build/screenshots/): nothing is checked
# on them and a full-page PNG costs about 0.2 s of CPU, so a run takes them only when
# asked, `COMUNA_TEST_SCREENSHOTS=1 ./test.sh tests/test_pages_phone.py`. (Tests that
# check a picture's file, test_pictures and test_economy_browser, always take theirs.)
TAKE_SHOTS = os.environ.get("COMUNA_TEST_SCREENSHOTS", "0") == "1"


def keep_picture(target: Any, path: Path, **options: Any) -> None:
    """`target.screenshot` (a page or a locator) for people to look at, unless skipped."""
    if TAKE_SHOTS:
        path.parent.mkdir(parents=True, exist_ok=True)
        target.screenshot(path=str(path), **options)

# Controls a thumb must hit. Links inside a sentence are exempt (as WCAG 2.5.8 allows);
# links standing alone in navigation and lists of actions are not.
MEASURE = """() => {
  const bad = [];
  const sel = 'button, select, textarea, summary, nav a, .actions a,' +
    'input:not([type=hidden]):not([type=radio]):not([type=checkbox])';
  for (const el of document.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // not shown
    if (r.height < 43.5) bad.push(`${el.tagName.toLowerCase()} "${(el.innerText || el.name ||
      el.value || '').trim().slice(0, 30)}" ${Math.round(r.height)} px`);
  }
  for (const el of document.querySelectorAll('input[type=radio], input[type=checkbox]')) {
    const row = el.closest('div, label, li, p') || el;
    if (row.getBoundingClientRect().height < 43.5) bad.push(`${el.type} ${el.name} row ` +
      `${Math.round(row.getBoundingClientRect().height)} px`);
  }
  return {width: document.documentElement.scrollWidth, bad};
}"""


def slug(url: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "home"


def shot(page: Any, name: str) -> None:
    """A full-page screenshot under build/screenshots/, and the page fits 360 px."""
    keep_picture(page, SHOTS / f"{name}.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, name
