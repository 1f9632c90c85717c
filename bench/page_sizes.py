"""Bytes a phone downloads for each page: every GET page of the app, rendered for a
logged-in coordinator of the page tour's commune (tests/tourcommune.seed), raw and
gzipped at the level the node uses (6).

    .venv/bin/python bench/page_sizes.py
"""

from __future__ import annotations

import gzip
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.testclient import TestClient

from node.app import create_app
from node.cli.main import main as cli
from node.config import load_settings
from tests.pagetour import fill, inner_app, page_routes
from tests.tourcommune import seed


def main() -> None:
    data = Path(tempfile.mkdtemp()) / "node"
    cli(["init", "--data-dir", str(data), "--url", "http://node.test", "--handle", "maizal",
         "--name", "Maizal", "--level", "commune"])
    settings = load_settings(data)
    ids = seed(settings)
    with TestClient(create_app(settings), base_url="http://node.test") as client:
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/login").text)
        assert token is not None
        client.post("/login", data={"csrf": token.group(1), "username": "facil",
                                    "password": "contraseña-larga"})
        rows = []
        for path in page_routes(inner_app(client)):
            r = client.get(fill(path, ids), headers={"Accept": "text/html"})
            if "text/html" in r.headers.get("content-type", ""):
                rows.append((path, len(r.content), len(gzip.compress(r.content, 6))))
    print(f"{'page':45s} {'raw':>9s} {'gzip':>9s}")
    for path, raw, packed in sorted(rows, key=lambda x: -x[1]):
        print(f"{path:45s} {raw / 1024:6.1f} KB {packed / 1024:6.1f} KB")


if __name__ == "__main__":
    main()
