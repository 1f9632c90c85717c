"""Inbox throughput: signed Create POSTs verified, stored and answered per second,
beside the floor (same server and signature check, 202 without storing).

    .venv/bin/python bench/inbox_bench.py [--seconds 10] [--rounds 3] [--processes 2]

Needs `wrk` (Debian package). Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import ROOT, env, free_port, init_node, median, rss_mb, wait_healthy

from tests.fakeremote import start_fake_remote


def _sign_batch(args: tuple[str, str, str, int, int]) -> list[str]:
    from cryptography.hazmat.primitives import serialization

    from node.federation.httpsig.sign import sign_cavage

    pem, key_id, actor, inbox, start_count = args[0], args[1], args[2], args[3], args[4]
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    host_prefix = actor.rsplit("/users/", 1)[0]
    lines = []
    for n in range(start_count, start_count + BATCH):
        act = {"@context": "https://www.w3.org/ns/activitystreams",
               "id": f"{host_prefix}/activities/{n}", "type": "Create", "actor": actor,
               "object": {"id": f"{host_prefix}/notes/{n}", "type": "Note",
                          "attributedTo": actor, "content": "x" * 1500}}
        body = json.dumps(act, separators=(",", ":")).encode()
        headers = sign_cavage("POST", inbox, key_id, key, body=body,
                              headers={"Content-Type": "application/activity+json"})
        path = "/" + inbox.split("/", 3)[3]
        hdr = "\x1f".join(f"{k}: {v}" for k, v in headers.items() if k != "Host")
        lines.append(f"{path}\t{hdr}\t{body.decode()}")
    return lines


BATCH = 1000


def make_requests(actor, inbox: str, count: int, out: Path, threads: int, offset: int) -> None:
    from node.federation.keys import private_pem

    pem = private_pem(actor.rsa_key)
    jobs = [(pem, actor.key_id, actor.uri, inbox, offset + i * BATCH)
            for i in range(count // BATCH)]
    with ProcessPoolExecutor(2) as pool:
        lines = [line for batch in pool.map(_sign_batch, jobs) for line in batch]
    for t in range(threads):
        Path(f"{out}.{t}").write_text("\n".join(lines[t::threads]) + "\n")


def start_server(data_dir: Path, port: int, processes: int, floor: bool) -> subprocess.Popen:
    if floor:
        cmd = [sys.executable, "-m", "uvicorn", "bench.apps:floor_app", "--factory",
               "--port", str(port), "--workers", str(processes), "--no-access-log",
               "--log-level", "warning"]
    else:
        cmd = [sys.executable, "-m", "node.cli.main", "serve", "--data-dir", str(data_dir),
               "--port", str(port), "--workers", str(processes), "--no-background"]
    proc = subprocess.Popen(cmd, env=env(COMUNA_DATA_DIR=str(data_dir)) if floor else env(),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    return proc


def run_wrk(url: str, script_arg: Path, seconds: int, threads: int,
            conns: int) -> tuple[float, int]:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "-s",
         str(ROOT / "bench" / "wrk_requests.lua"), url, "--", str(script_arg)],
        capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, int(bad.group(1)) if bad else 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="comuna-bench-"))
    remote = start_fake_remote()
    alice = remote.actor("alice")
    port = free_port()
    data_dir = tmp / "node"
    data_dir.mkdir()
    url = init_node(data_dir, port)
    inbox = f"{url}/actors/bench/inbox"
    # Enough distinct activities that none repeats within a run (a repeat is cheaper).
    per_round = 10000 * args.seconds
    results: dict[str, list[float]] = {"floor": [], "store": []}
    errors = {"floor": 0, "store": 0}
    for rnd in range(args.rounds):
        for variant in ("floor", "store"):
            reqfile = tmp / f"req-{variant}-{rnd}"
            make_requests(alice, inbox, per_round, reqfile, 2, offset=(rnd * 2 + (
                variant == "store")) * per_round)
            warm = tmp / f"warm-{variant}-{rnd}"
            make_requests(alice, inbox, BATCH, warm, 2, offset=10_000_000 + rnd * 10 * BATCH
                          + (variant == "store") * BATCH)
            proc = start_server(data_dir, port, args.processes, variant == "floor")
            try:
                run_wrk(url, warm, 2, 2, 16)  # every worker fetches and caches the key
                rps, bad = run_wrk(url, reqfile, args.seconds, 2, args.connections)
            finally:
                proc.terminate()
                proc.wait()
            results[variant].append(rps)
            errors[variant] += bad
            print(f"round {rnd + 1} {variant}: {rps:,.0f}/s ({bad} non-2xx)", file=sys.stderr)
    db = sqlite3.connect(data_dir / "comuna.sqlite3")
    stored = db.execute("select count(*) from inbox_item").fetchone()[0]
    # Idle memory of one node process (web + background loops, one worker).
    proc = subprocess.Popen([sys.executable, "-m", "node.cli.main", "serve", "--data-dir",
                             str(data_dir), "--port", str(port)], env=env(), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_healthy(url, proc)
    time.sleep(5)
    idle = rss_mb(proc.pid)
    proc.terminate()
    proc.wait()
    remote.close()
    f, s = median(results["floor"]), median(results["store"])
    print(f"| variant ({args.processes} processes, wrk -c{args.connections}, "
          f"{args.seconds} s x {args.rounds}) | runs (req/s) | median |")
    print("|---|---|---|")
    for name, label in (("floor", "floor: verify, answer 202, no store"),
                        ("store", "node: verify, group-commit store, 202")):
        runs = ", ".join(f"{v:,.0f}" for v in results[name])
        print(f"| {label} | {runs} | {median(results[name]):,.0f} |")
    print(f"\nstore / floor = {s / f:.2f}; non-2xx answers: floor {errors['floor']}, "
          f"store {errors['store']}; rows in inbox_item: {stored:,}")
    print(f"idle RSS of one node process: {idle:.0f} MB")


if __name__ == "__main__":
    main()
