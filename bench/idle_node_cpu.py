"""CPU used by one idle test node process (tests/procnode.py) with its background loops
running (an account and a proposal start them), over 20 s, at a given delivery poll:

    cd bench && ../.venv/bin/python idle_node_cpu.py 0.2    # the tests' poll
    cd bench && ../.venv/bin/python idle_node_cpu.py 1.0    # the default
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from common import cpu_seconds

from tests.procnode import NodeProcess

PASSWORD = "contraseña-larga"


def main() -> None:
    poll = sys.argv[1] if len(sys.argv) > 1 else "0.2"
    os.environ.setdefault("COMUNA_PASSWORD_COST", "test")
    root = Path(tempfile.mkdtemp())
    node = NodeProcess(root, "maizal", f"sqlite:///{root}/db.sqlite",
                       extra_env={"COMUNA_DELIVERY_POLL_SECONDS": poll})
    node.start()
    try:
        token = node.invitation()
        httpx.post(f"{node.url}/api/v1/invitations/{token}/accept",
                   json={"username": "rosa", "password": PASSWORD}).raise_for_status()
        r = httpx.post(f"{node.url}/api/v1/tokens",
                       json={"username": "rosa", "password": PASSWORD})
        auth = {"Authorization": "Bearer " + r.json()["token"]}
        httpx.post(f"{node.url}/api/v1/bodies/maizal/proposals", headers=auth,
                   json={"title": "T", "text": "x"}).raise_for_status()
        assert node.proc is not None
        time.sleep(3)
        before = cpu_seconds(node.proc.pid)
        time.sleep(20)
        used = cpu_seconds(node.proc.pid) - before
        print(f"poll {poll} s: {used:.2f} s of CPU in 20 s idle ({used / 20 * 100:.1f} %)")
    finally:
        node.stop()


if __name__ == "__main__":
    main()
