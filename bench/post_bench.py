"""How long `comuna post` takes, start to exit, as a facilitator runs it: with the node
running (the text is handed to it over loopback) and with no node running (the
command loads the application and writes the rows itself).

    .venv/bin/python bench/post_bench.py [--runs 9] [--python /tmp/rtvenv/bin/python]

The command runs under `--python` (default: /tmp/rtvenv/bin/python when it exists, the
runtime dependencies only), as the `comuna` script next to it when there is one.
Bytecode caches are whatever the environment makes of them (PYTHONDONTWRITEBYTECODE
set means every start compiles the project's modules again).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, env, free_port, median, wait_healthy

RTVENV = Path("/tmp/rtvenv/bin/python")


def command(python: str) -> list[str]:
    script = Path(python).parent / "comuna"
    return [str(script)] if script.exists() else [python, "-m", "node.cli.main"]


def time_posts(cmd: list[str], data_dir: Path, runs: int, label: str) -> list[float]:
    times = []
    for n in range(runs):
        start = time.perf_counter()
        subprocess.run([*cmd, "post", "--data-dir", str(data_dir), f"{label} {n}"],
                       env=env(), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--python", default=str(RTVENV) if RTVENV.exists() else sys.executable)
    args = ap.parse_args()
    cmd = command(args.python)
    data_dir = Path(tempfile.mkdtemp(prefix="comuna-post-")) / "node"
    data_dir.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    subprocess.run([*cmd, "init", "--data-dir", str(data_dir), "--url", url, "--handle",
                    "posts", "--name", "Posts", "--level", "commune"],
                   env=env(), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    alone = time_posts(cmd, data_dir, args.runs, "no node running")
    proc = subprocess.Popen([*cmd, "serve", "--data-dir", str(data_dir), "--port", str(port)],
                            env=env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_healthy(url, proc)
        time.sleep(1)
        served = time_posts(cmd, data_dir, args.runs, "node running")
    finally:
        proc.terminate()
        proc.wait()
    start = time.perf_counter()
    subprocess.run([args.python, "-c", "pass"], check=True)
    bare = time.perf_counter() - start
    print(f"command: {' '.join(cmd)}; load: {os.getloadavg()[0]:.2f}; "
          f"a bare interpreter start: {bare:.3f} s")
    for label, times in (("node running (hand-off)", served),
                         ("no node running (writes the rows)", alone)):
        print(f"comuna post, {label}, {args.runs} runs (s): "
              f"{', '.join(f'{t:.3f}' for t in times)}; median {median(times):.3f}")


if __name__ == "__main__":
    main()
