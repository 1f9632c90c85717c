"""Delivery fan-out (issue 11): one `comuna post` to 2,000 followers on 100 instances,
each follower with its own inbox (no shared inbox), timed from just before the command
starts to the last of the 2,000 arrivals at the sinks; and the command's own time.

    .venv/bin/python bench/fanout_bench.py [--rounds 5] [--followers 2000] [--hosts 100]
        [--modes serve,worker] [--python /tmp/rtvenv/bin/python]

Every round uses a fresh data directory (so no kept-alive connection, warmed cache or
earlier delivery row carries over from one round to the next): `comuna init`, the
followers written straight into the database (follower i on sink port i mod hosts,
inbox /u/i/inbox), `comuna serve` started as the README starts it (one process,
default settings; only COMUNA_ALLOW_PRIVATE_NETWORKS=1 so it may deliver to
loopback), then, in the `worker` mode, one `comuna worker` on the same directory.
Once the node answers /healthz and every node process has stopped using CPU, the
driver runs `comuna post TEXT` and asks the sink for the moment the last distinct
inbox received its first request (the sink's stamps and the driver's share
CLOCK_MONOTONIC). Node processes run under `--python` (default /tmp/rtvenv when it
exists: the runtime dependencies only), through the `comuna` script next to it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import ROOT, env, free_port, init_node, median, wait_healthy

if TYPE_CHECKING:  # mypy knows bench/ as a package; the script runs with bench/ on sys.path
    from bench.common import SinkProcess
else:
    from common import SinkProcess
from rss_bench import add_followers

RTVENV = Path("/tmp/rtvenv/bin/python")
HANDLE = "fanout"


def command(python: str) -> list[str]:
    script = Path(python).parent / "comuna"
    return [str(script)] if script.exists() else [python, "-m", "node.cli.main"]


def node_env(log_level: str) -> dict[str, str]:
    """The benchmark's environment minus its log level, unless one is asked for: the
    node logs as it would by default."""
    out: dict[str, str] = env()
    out.pop("COMUNA_LOG_LEVEL", None)
    if log_level:
        out["COMUNA_LOG_LEVEL"] = log_level
    return out


def cpu_seconds(pid: int) -> float:
    # utime and stime, the 14th and 15th fields; the name (2nd) may hold spaces.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(procs: list[subprocess.Popen[bytes]], window: float = 1.0, quiet: int = 2,
              timeout: float = 60.0) -> float:
    """Until `quiet` windows in a row cost each process under 3 % of a core (an idle
    node polls its queues: about 1 % here; the clock ticks in 10 ms); returns how
    long that took."""
    start = time.monotonic()
    calm = 0
    last = [cpu_seconds(p.pid) for p in procs]
    while calm < quiet:
        if time.monotonic() - start > timeout:
            raise RuntimeError("node processes did not settle")
        time.sleep(window)
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"process {p.args!r} exited")
        now = [cpu_seconds(p.pid) for p in procs]
        busy = max(b - a for a, b in zip(last, now, strict=True))
        calm = calm + 1 if busy < 0.03 * window else 0
        last = now
    return time.monotonic() - start


class SinkClient(SinkProcess):
    """The sink process in `--stamps` mode."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__("--stamps", *map(str, ports))


def delivery_states(db_path: Path) -> dict[str, int]:
    db = sqlite3.connect(db_path, timeout=30)
    try:
        return dict(db.execute("select state, count(*) from delivery group by state").fetchall())
    finally:
        db.close()


def one_round(args: argparse.Namespace, mode: str, tmp: Path, sink: SinkClient,
              ports: list[int]) -> dict[str, Any]:
    cmd = command(args.python)
    data_dir = tmp / f"{mode}-{time.monotonic_ns()}"
    data_dir.mkdir()
    port = free_port()
    with contextlib.redirect_stdout(sys.stderr if args.verbose else io.StringIO()):
        url = init_node(data_dir, port, HANDLE)
    db_path = data_dir / "comuna.sqlite3"
    add_followers(db_path, ports, args.followers)
    log = (data_dir / "node.log").open("wb")
    environ = node_env(args.log_level)
    procs = [subprocess.Popen([*cmd, "serve", "--data-dir", str(data_dir), "--port", str(port)],
                              env=environ, cwd=ROOT, stdout=log, stderr=log)]
    try:
        wait_healthy(url, procs[0])
        if mode == "worker":
            procs.append(subprocess.Popen([*cmd, "worker", "--data-dir", str(data_dir)],
                                          env=environ, cwd=ROOT, stdout=log, stderr=log))
        settle = wait_idle(procs)
        handed_off = (data_dir / "serve.local.json").exists()
        sink.ask("reset")
        cpu_before = [cpu_seconds(p.pid) for p in procs]
        start = time.monotonic()
        subprocess.run([*cmd, "post", "--data-dir", str(data_dir), "x" * args.text_size],
                       env=environ, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        posted = time.monotonic()
        report = sink.ask(f"wait {args.followers} {args.timeout}")
        cpu_after = [cpu_seconds(p.pid) for p in procs]
        if report["distinct"] < args.followers:
            raise RuntimeError(f"only {report['distinct']} of {args.followers} inboxes "
                               f"reached within {args.timeout} s; log in {data_dir}")
        time.sleep(0.3)  # the last rows are marked delivered after the sink answered
        last_ports = sorted(v[2] for v in report["ports"].values())
        return {
            "fanout": report["last"] - start,
            "post": posted - start,
            "first": report["first"] - start,
            "after_post": report["last"] - posted,
            # when the first and the median instance had all of their 20 followers
            "first_host_done": last_ports[0] - start,
            "median_host_done": median(last_ports) - start,
            "requests": report["requests"],
            "states": delivery_states(db_path),
            "cpu": [b - a for a, b in zip(cpu_before, cpu_after, strict=True)],
            "settle": settle,
            "handed_off": handed_off,
        }
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait()
        log.close()


def summary(label: str, values: list[float]) -> str:
    runs = ", ".join(f"{v:.2f}" for v in values)
    return (f"| {label} | {runs} | **{median(values):.2f}** | {min(values):.2f} | "
            f"{max(values):.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--followers", type=int, default=2000)
    ap.add_argument("--hosts", type=int, default=100, help="sink ports (instances)")
    ap.add_argument("--modes", default="serve,worker",
                    help="serve: `comuna serve` alone; worker: plus one `comuna worker`")
    ap.add_argument("--python", default=str(RTVENV) if RTVENV.exists() else sys.executable)
    ap.add_argument("--text-size", type=int, default=1500, help="characters in the note")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds to wait for every arrival")
    ap.add_argument("--log-level", default="",
                    help="COMUNA_LOG_LEVEL for the node processes (default: the node's)")
    ap.add_argument("--verbose", action="store_true", help="show what `comuna init` prints")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if any(m not in ("serve", "worker") for m in modes):
        ap.error("--modes takes serve and/or worker")
    tmp = Path(tempfile.mkdtemp(prefix="comuna-fanout-"))
    ports: list[int] = []
    while len(ports) < args.hosts:
        port = free_port()  # a port just freed can come back: keep them distinct
        if port not in ports:
            ports.append(port)
    sink = SinkClient(ports)
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    loads: list[float] = []
    try:
        for n in range(args.rounds):
            for mode in modes:  # interleaved, so both modes see the same load over time
                loads.append(os.getloadavg()[0])
                r = one_round(args, mode, tmp, sink, ports)
                results[mode].append(r)
                cpu = " + ".join(f"{c:.2f}" for c in r["cpu"])
                print(f"round {n + 1} {mode}: last arrival {r['fanout']:.2f} s, post "
                      f"{r['post']:.3f} s, first arrival {r['first']:.2f} s, "
                      f"requests {r['requests']}, rows {r['states']}, CPU {cpu} s, "
                      f"settled in {r['settle']:.1f} s, hand-off file "
                      f"{'yes' if r['handed_off'] else 'NO'}, load {loads[-1]:.2f}",
                      file=sys.stderr, flush=True)
    finally:
        sink.close()
    print(f"node: {' '.join(command(args.python))}; {args.followers} followers on "
          f"{args.hosts} sink ports, {args.text_size}-character note; 1-minute load at "
          f"the start of each round {min(loads):.2f}-{max(loads):.2f}")
    print("\n| measure (s) | runs | median | min | max |\n|---|---|---|---|---|")
    names = {"serve": "`comuna serve`", "worker": "`comuna serve` + one `comuna worker`"}
    for mode in modes:
        rs = results[mode]
        print(summary(f"{names[mode]}: post to last arrival", [r["fanout"] for r in rs]))
        print(summary(f"{names[mode]}: `comuna post` process", [r["post"] for r in rs]))
        print(summary(f"{names[mode]}: post to first arrival", [r["first"] for r in rs]))
        print(summary(f"{names[mode]}: post to first instance complete",
                      [r["first_host_done"] for r in rs]))
        print(summary(f"{names[mode]}: post to median instance complete",
                      [r["median_host_done"] for r in rs]))


if __name__ == "__main__":
    main()
