"""Inbox throughput: signed Create POSTs verified, stored and answered per second,
beside the floor (same server and signature check, 202 without storing).

    .venv/bin/python bench/inbox_bench.py [--seconds 10] [--rounds 3] [--processes 2]
    .venv/bin/python bench/inbox_bench.py --flood [--processes 1] [--actors 10]

The first form is the write path alone (`serve --no-background`, one actor). The
second is issue 11's target: the node as the README starts it (inbox processing and
delivery on), Creates signed by `--actors` distinct remote actors, and after the
flood the seconds until no `inbox_item` row is left queued (the backlog drained).
With --no-processing it runs `serve --no-background` instead: the store alone, as a
reference (rows stay queued). `--kind delete` floods with accounts' Deletes of
themselves instead of Creates of Notes: activities the processor must act on, where
the Creates are stored already handled (node/inbox/triage.py).

COMUNA_PROFILE_DIR=DIR with --flood runs the node as `bench.apps:profiled_app` (cProfile
of the event loop, counters of commits and processing passes, written to DIR).

Needs `wrk` (Debian package). Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from common import ROOT, env, free_port, init_node, median, rss_mb, wait_healthy

from tests.fakeremote import RemoteActor, start_fake_remote

BATCH = 1000
# A backlog not drained by then is reported as such rather than waited for.
DRAIN_LIMIT = 120.0


def _activity(kind: str, host_prefix: str, name: str, actor: str, n: int) -> dict[str, Any]:
    """A Create of a 1,500-character Note (nothing here acts on it: stored handled), or
    with --kind delete an account's Delete of itself, as servers broadcast when an
    account goes (the processor acts on it: each one a transaction), of the same size."""
    doc: dict[str, Any] = {"@context": "https://www.w3.org/ns/activitystreams",
                           "id": f"{host_prefix}/activities/{name}-{n}", "actor": actor}
    if kind == "delete":
        return {**doc, "type": "Delete", "object": actor, "summary": "x" * 1500}
    return {**doc, "type": "Create",
            "object": {"id": f"{host_prefix}/notes/{name}-{n}", "type": "Note",
                       "attributedTo": actor, "content": "x" * 1500}}


def _sign_batch(args: tuple[str, str, str, str, int, int, str]) -> list[str]:
    from node.activitypub.httpsig.sign import sign_cavage
    from node.activitypub.keys import load_private_pem

    pem, key_id, actor, inbox, start_count, count, kind = args
    key = load_private_pem(pem)
    host_prefix, name = actor.rsplit("/users/", 1)
    lines = []
    for n in range(start_count, start_count + count):
        act = _activity(kind, host_prefix, name, actor, n)
        body = json.dumps(act, separators=(",", ":")).encode()
        headers = sign_cavage("POST", inbox, key_id, key, body=body,
                              headers={"Content-Type": "application/activity+json"})
        path = "/" + inbox.split("/", 3)[3]
        hdr = "\x1f".join(f"{k}: {v}" for k, v in headers.items() if k != "Host")
        lines.append(f"{path}\t{hdr}\t{body.decode()}")
    return lines


def make_requests(actors: list[RemoteActor], inbox: str, count: int, out: Path, threads: int,
                  offset: int, kind: str = "create") -> None:
    """`count` distinct signed activities (`_activity`), spread evenly over `actors` and
    interleaved, in one file per wrk thread."""
    from node.activitypub.keys import private_pem

    per_actor = max(1, count // len(actors))
    jobs = []
    for actor in actors:
        pem = private_pem(actor.rsa_key)
        for start in range(0, per_actor, BATCH):
            jobs.append((pem, actor.key_id, actor.uri, inbox, offset + start,
                         min(BATCH, per_actor - start), kind))
    with ProcessPoolExecutor(2) as pool:
        batches = list(pool.map(_sign_batch, jobs))
    by_actor = [[line for b in batches[i::len(actors)] for line in b]
                for i in range(len(actors))] if len(actors) > 1 else [
        [line for b in batches for line in b]]
    # Round-robin over the actors, as a flood from several of them arrives.
    lines = [row[i] for i in range(per_actor) for row in by_actor if i < len(row)]
    for t in range(threads):
        Path(f"{out}.{t}").write_text("\n".join(lines[t::threads]) + "\n")


def start_server(data_dir: Path, port: int, processes: int, floor: bool,
                 background: bool = False) -> subprocess.Popen[bytes]:
    profile = os.environ.get("COMUNA_PROFILE_DIR")
    if floor or (profile and background):
        app = "bench.apps:floor_app" if floor else "bench.apps:profiled_app"
        cmd = [sys.executable, "-m", "uvicorn", app, "--factory",
               "--port", str(port), "--workers", str(processes), "--no-access-log",
               "--log-level", "warning"]
    else:
        cmd = [sys.executable, "-m", "node.cli.main", "serve", "--data-dir", str(data_dir),
               "--port", str(port), "--workers", str(processes)]
        if not background:
            cmd.append("--no-background")
    extra = {"COMUNA_DATA_DIR": str(data_dir)} if floor or profile else {}
    proc = subprocess.Popen(cmd, env=env(**extra), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    return proc


def run_wrk(url: str, script_arg: Path, seconds: int, threads: int,
            conns: int) -> tuple[float, int]:
    """Answered-with-2xx requests per second, and how many were not 2xx."""
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "-s",
         str(ROOT / "bench" / "wrk_requests.lua"), url, "--", str(script_arg)],
        capture_output=True, text=True, check=True).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    nbad = int(bad.group(1)) if bad else 0
    if total is None:
        rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
        assert rate, out
        return float(rate.group(1)), nbad
    secs = float(total.group(2)) / (1000 if total.group(3) == "ms" else 1)
    return (int(total.group(1)) - nbad) / secs, nbad


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by `root` and every process under it
    (uvicorn's worker processes): with the cores shared with wrk, what a stored row
    costs in CPU tells a slower path from one that waits (for a lock, a sync)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the name: state, ppid, … utime and stime are the 12th and 13th.
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo.extend(p for p, (ppid, _) in stats.items() if ppid == pid)
    return total


def spy(root: int, seconds: int, variant: str) -> list[subprocess.Popen[bytes]]:
    """With COMUNA_PYSPY=DIR, py-spy samples each process of the node (the worker
    processes and their threads) through the flood, written to DIR as flame graphs and
    raw collapsed stacks. COMUNA_PYSPY_BIN names py-spy when it is not on PATH;
    COMUNA_PYSPY_ARGS adds options (`--gil`: only samples holding the GIL)."""
    out = os.environ.get("COMUNA_PYSPY")
    if not out:
        return []
    binary = os.environ.get("COMUNA_PYSPY_BIN", "py-spy")
    pids = [root] + [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                     and _ppid(p) == root]
    return [subprocess.Popen([binary, "record", "--pid", str(pid), "--duration",
                              str(seconds), "--rate", "200", "--threads", "--nonblocking",
                              "--format", "raw", "--output", f"{out}/{variant}-{pid}.txt",
                              *os.environ.get("COMUNA_PYSPY_ARGS", "").split()],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for pid in pids]


def _ppid(proc_dir: Path) -> int:
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def queued(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        n: int = conn.execute("select count(*) from inbox_item where state = 'queued'"
                              ).fetchone()[0]
        return n


def wait_drained(db: Path, since: float, limit: float = DRAIN_LIMIT) -> float:
    """Seconds from `since` until no inbox row is queued (inf if not within `limit`)."""
    while queued(db):
        if time.monotonic() - since > limit:
            return float("inf")
        time.sleep(0.02)
    return time.monotonic() - since


def flood(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="comuna-bench-"))
    remote = start_fake_remote()
    actors = [remote.actor(f"a{i}") for i in range(args.actors)]
    port = free_port()
    data_dir = tmp / "node"
    data_dir.mkdir()
    url = init_node(data_dir, port)
    db = data_dir / "comuna.sqlite3"
    inbox = f"{url}/actors/bench/inbox"
    per_round = 6000 * args.seconds * args.processes
    results: dict[str, list[float]] = {"floor": [], "store": []}
    # CPU milliseconds of the server's processes per 2xx answer, over the flood.
    cpu: dict[str, list[float]] = {"floor": [], "store": []}
    drains: list[float] = []
    backlogs: list[int] = []
    errors = {"floor": 0, "store": 0}
    floor_req = tmp / "req-floor"
    make_requests(actors, inbox, per_round, floor_req, 2, offset=0, kind=args.kind)
    for rnd in range(args.rounds):
        reqfile = tmp / f"req-store-{rnd}"
        make_requests(actors, inbox, per_round, reqfile, 2, offset=(rnd + 1) * per_round,
                      kind=args.kind)
        warm = tmp / f"warm-{rnd}"
        make_requests(actors, inbox, 20 * len(actors), warm, 2,
                      offset=10_000_000 + rnd * 10 * BATCH)
        for variant in ("floor", "store"):
            proc = start_server(data_dir, port, args.processes, variant == "floor",
                                background=not args.no_processing)
            try:
                # Every process fetches and caches each actor's key before the timed run.
                run_wrk(url, warm if variant == "store" else floor_req, 2, 2, 16)
                if variant == "store" and not args.no_processing and \
                        wait_drained(db, time.monotonic()) == float("inf"):
                    raise RuntimeError("the warm-up rows were not processed")
                before = queued(db)
                cpu0 = tree_cpu(proc.pid)
                spies = spy(proc.pid, args.seconds, variant)
                rps, bad = run_wrk(url, reqfile if variant == "store" else floor_req,
                                   args.seconds, 2, args.connections)
                cpu[variant].append(1000 * (tree_cpu(proc.pid) - cpu0) /
                                    max(1.0, rps * args.seconds))
                for sampler in spies:
                    sampler.wait()
                if variant == "store":
                    end = time.monotonic()
                    backlogs.append(queued(db) - before)
                    drains.append(float("nan") if args.no_processing else
                                  wait_drained(db, end))
            finally:
                proc.terminate()
                proc.wait()
            results[variant].append(rps)
            errors[variant] += bad
            extra = (f", backlog {backlogs[-1]:,} drained in {drains[-1]:.1f} s"
                     if variant == "store" else "")
            print(f"round {rnd + 1} {variant}: {rps:,.0f}/s ({bad} non-2xx), "
                  f"{cpu[variant][-1]:.2f} CPU ms per answer{extra}",
                  file=sys.stderr, flush=True)
    with sqlite3.connect(db) as conn:
        states = dict(conn.execute("select state, count(*) from inbox_item group by state"))
    remote.close()
    f, s = median(results["floor"]), median(results["store"])
    print(f"| variant ({args.processes} process{'es' if args.processes > 1 else ''}, "
          f"{args.actors} actors, {args.kind}, wrk -c{args.connections}, "
          f"{args.seconds} s x {args.rounds})"
          " | runs (2xx/s) | median |")
    print("|---|---|---|")
    print(f"| floor: verify, answer 202, no store | "
          f"{', '.join(f'{v:,.0f}' for v in results['floor'])} | {f:,.0f} |")
    label = ("node with --no-background: store, 202" if args.no_processing else
             "node as started by the README: store, 202, processing on")
    print(f"| {label} | "
          f"{', '.join(f'{v:,.0f}' for v in results['store'])} | {s:,.0f} |")
    print(f"| backlog at the flood's end (rows) | {', '.join(f'{b:,}' for b in backlogs)} | "
          f"{median(backlogs):,.0f} |")
    print(f"| drained after the flood's end (s) | {', '.join(f'{d:.1f}' for d in drains)} | "
          f"{median(drains):.1f} |")
    for variant, name in (("floor", "floor"), ("store", "node")):
        print(f"| {name}: CPU ms per 2xx (all its processes) | "
              f"{', '.join(f'{c:.2f}' for c in cpu[variant])} | {median(cpu[variant]):.2f} |")
    print(f"\nstored / floor = {s / f:.2f}; slowest drain {max(drains):.1f} s; non-2xx: "
          f"floor {errors['floor']}, node {errors['store']}; inbox_item by state: {states}")


def store_only(args: argparse.Namespace) -> None:
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
            make_requests([alice], inbox, per_round, reqfile, 2, offset=(rnd * 2 + (
                variant == "store")) * per_round)
            warm = tmp / f"warm-{variant}-{rnd}"
            make_requests([alice], inbox, BATCH, warm, 2, offset=10_000_000 + rnd * 10 * BATCH
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--processes", type=int, default=None,
                    help="web processes (default 2; 1 with --flood)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--flood", action="store_true",
                    help="issue 11's target: processing on, several actors, drain time")
    ap.add_argument("--actors", type=int, default=10, help="signing actors with --flood")
    ap.add_argument("--kind", choices=("create", "delete"), default="create",
                    help="with --flood: Creates of Notes (the target's), or accounts' "
                         "Deletes of themselves (each one processed)")
    ap.add_argument("--no-processing", action="store_true",
                    help="with --flood: serve --no-background, the store alone (a reference)")
    args = ap.parse_args()
    if args.processes is None:
        args.processes = 1 if args.flood else 2
    (flood if args.flood else store_only)(args)


if __name__ == "__main__":
    main()
