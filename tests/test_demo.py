"""`comuna demo` as a person runs it: four node processes tell their story, then a
Chromium walk visits every page of each node at 360 px as its coordinator (nothing
wider than the screen, no error, a screenshot of each picture), and a Ctrl-C stops
it with nothing left running."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from tests.browser import ARGS, CHROMIUM, PHONE, SHOTS, keep_picture, needs_chromium, slug

# The demo's nodes keep SQLite files of their own whatever the run's database, so the
# PostgreSQL pass of .ci/run, which would repeat the SQLite pass exactly, leaves it out.
pytestmark = [pytest.mark.federation, needs_chromium, pytest.mark.timeout(420),
              pytest.mark.database_free]

# Links a walk does not follow: leaving, switching language, files to download, the API.
SKIP = re.compile(r"^/(logout|salir|idioma|language|api/|actors/|objects/|activities/)|"
                  r"\.(ics|csv|json|pdf)$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _shape(path: str) -> str:
    """One visit per kind of page: /p/12 and /p/13 are the same page."""
    return re.sub(r"/\d+(?=/|$)", "/{n}", path)


def _walk(browser: Any, node: dict[str, Any], password: str) -> tuple[list[str], list[str]]:
    """Every page reachable from the home page, as the node's coordinator."""
    page = browser.new_context(**PHONE).new_page()
    page.goto(f"{node['url']}/login")
    page.fill("input[name=username]", node["logins"][0])
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    origin = urlsplit(node["url"]).netloc
    queue, seen, visited, problems = ["/", f"/b/{node['handle']}"], set(), [], []
    while queue:
        path = queue.pop(0)
        if _shape(path) in seen:
            continue
        seen.add(_shape(path))
        response = page.goto(node["url"] + path)
        if response is None or "text/html" not in response.headers.get("content-type", ""):
            continue
        visited.append(path)
        if response.status >= 400:
            problems.append(f"{node['handle']} {path}: {response.status}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 360:
            problems.append(f"{node['handle']} {path}: {width} px wide")
        for i, picture in enumerate(page.locator("svg[role=img]").all()):
            keep_picture(picture, SHOTS / f"demo-{node['handle']}-{slug(path)}-{i}.png")
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url = urlsplit(urljoin(node["url"] + path, href))
            if url.netloc == origin and not SKIP.search(url.path):
                queue.append(url.path + (f"?{url.query}" if url.query else ""))
    page.context.close()
    return visited, problems


def _stopped(demo: subprocess.Popen[bytes], out: Path, nodes: Path) -> int:
    """The demo's exit code once Ctrl-C has stopped it; if it hangs, where each of its
    threads stood (faulthandler, SIGUSR1) and its nodes' last words, then a failure."""
    try:
        return demo.wait(60)
    except subprocess.TimeoutExpired:
        demo.send_signal(signal.SIGUSR1)
        time.sleep(1)
        alive = "\n".join(line for line in subprocess.run(
            ["ps", "-eo", "pid,ppid,stat,etime,args"], capture_output=True,
            text=True).stdout.splitlines() if str(nodes) in line)
        demo.kill()
        demo.wait()
        logs = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(nodes.glob("*/serve.log")))
        raise AssertionError(f"the demo did not stop within 60 s of Ctrl-C\n"
                             f"{out.read_text(errors='replace')}\n{alive}\n{logs}") from None


def test_the_demo_tells_its_story_every_page_fits_and_ctrl_c_leaves_nothing(
        tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    ready_file, out = tmp_path / "ready.json", tmp_path / "demo.out"
    demo = subprocess.Popen(
        [sys.executable, "-m", "node.cli.main", "demo", "--dir", str(tmp_path / "nodes"),
         "--ready-file", str(ready_file)], stdout=out.open("wb"), stderr=subprocess.STDOUT,
        env={**os.environ, "COMUNA_DEMO_VOTE_SECONDS": "2"},
        # Started as a shell starts a background job, with SIGINT ignored: Ctrl-C must
        # stop it all the same (it once slept on, and its nodes with it).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 240
        while not ready_file.exists():
            assert demo.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.5)
        ready = json.loads(ready_file.read_text("utf-8"))
        told = out.read_text()
        for line in ("decidió por mandatos: 2 a favor, 1 en contra", "revocó el mandato",
                     "convocó su próxima asamblea", "crearon sus consejos",
                     "trueque a tres bandas", "Cumbe Adentro adoptó una"):
            assert line in told, told
        SHOTS.mkdir(parents=True, exist_ok=True)
        problems: list[str] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                for node in ready["nodes"]:
                    visited, found = _walk(browser, node, ready["password"])
                    assert len(visited) >= 10, (node["handle"], visited)
                    problems += found
            finally:
                browser.close()
        assert not problems, "\n".join(problems)
    finally:
        demo.send_signal(signal.SIGINT)
        code = _stopped(demo, out, tmp_path / "nodes")
    assert code == 0, out.read_text()
    assert "no queda nada en marcha" in out.read_text()
    pids = [n["pid"] for n in ready["nodes"]]
    assert pids and not [p for p in pids if _alive(p)]


def test_the_demo_refuses_a_folder_in_use_and_starts_nothing(tmp_path: Path) -> None:
    (tmp_path / "algo.txt").write_text("de otra cosa")
    out = subprocess.run([sys.executable, "-m", "node.cli.main", "demo", "--dir",
                          str(tmp_path), "--no-wait"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "ya tiene archivos" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["algo.txt"]
