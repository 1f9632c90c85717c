"""What an app's first requests cost, app after app in one process (as the test suite
makes an app per test): a commune is made with `comuna init`, then several apps are
made from it one after another, and each answers a page and a JSON API request. The
first app also imports the pages and the API; the later ones show what each new app
pays again.

    .venv/bin/python bench/first_request.py [--apps 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

from common import init_node


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", type=int, default=4)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

    from node.app import create_app
    from node.config import load_settings

    data = Path(tempfile.mkdtemp(prefix="comuna-first-"))
    url = init_node(data, 8000)  # never listened on: the apps answer in-process
    settings = load_settings(data)
    for n in range(args.apps):
        with TestClient(create_app(settings, background=False), base_url=url) as client:
            started = time.perf_counter()
            client.get("/b/bench")
            client.get("/api/v1/me")
            took = time.perf_counter() - started
        print(f"app {n + 1}: first page and API answer in {took:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
