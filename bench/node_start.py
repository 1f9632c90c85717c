"""What a test node costs to start: `comuna serve` started as the suite starts it
(tests/procnode.py), forked from the zygote (tests/forkserver.py) or, with
COMUNA_TEST_FORK=0, as a fresh interpreter. Prints the seconds until the node answers
for its own actor and the CPU its process used to get there.

    cd bench && ../.venv/bin/python node_start.py [--runs 5]
    cd bench && COMUNA_TEST_FORK=0 ../.venv/bin/python node_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import cpu_seconds

from tests import forkserver
from tests.procnode import NodeProcess


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="nodestart-"))
    walls, cpus = [], []
    # The first fork also starts the zygote (about 2 s, once per pytest worker): one
    # start before the measured ones.
    for run in range(args.runs + 1):
        here = root / f"run{run}"
        here.mkdir()
        node = NodeProcess(here, "maizal", f"sqlite:///{here}/db.sqlite3")
        started = time.monotonic()
        node.start()
        wall = time.monotonic() - started
        assert node.proc is not None
        cpu = cpu_seconds(node.proc.pid)
        node.stop()
        if run:
            walls.append(wall)
            cpus.append(cpu)
            print(f"ready in {wall:.2f} s, {cpu:.2f} s of CPU")
    kind = "forked" if forkserver.ENABLED else "fresh interpreter"
    print(f"{kind}: median {statistics.median(walls):.2f} s to ready, "
          f"{statistics.median(cpus):.2f} s of CPU over {args.runs} starts")
    forkserver.close()


if __name__ == "__main__":
    main()
