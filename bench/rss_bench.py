"""Resident memory of one `comuna serve` process (web, inbox processor and delivery
worker in one, as the README starts it): idle after start-up settles, and optionally
again after a burst of signed inbox POSTs and a post delivered to many followers.

    .venv/bin/python bench/rss_bench.py [--runs 5] [--python /tmp/rtvenv/bin/python]
        [--inbox 2000] [--followers 2000] [--hosts 100] [--pages]

The node runs under `--python` (default: /tmp/rtvenv/bin/python when it exists, a venv
with the project's runtime dependencies only: the test extras pull in modules the
runtime never needs, which would inflate the figure). The driver (this script, the
key server, the sink) runs under the interpreter that starts it. `--inbox 0
--followers 0` measures idle only. Each run uses a fresh data directory.
The JSON API and the web pages are loaded on their first request (node/lazyroutes.py);
`--pages` asks for a page and an API answer after the idle measure, so that the
figure after the burst includes them, as for a node whose members use it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import ROOT, env, free_port, median, rss_mb, wait_healthy

from tests.fakeremote import FakeRemote, start_fake_remote

RTVENV = Path("/tmp/rtvenv/bin/python")


def settle(pid: int, quiet: float = 2.0, timeout: float = 30.0) -> float:
    """RSS once it has stopped moving (±0.25 MB over `quiet` seconds)."""
    deadline = time.monotonic() + timeout
    last = rss_mb(pid)
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now: float = rss_mb(pid)
        if abs(now - last) > 0.25:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    final: float = rss_mb(pid)
    return final


def add_followers(db_path: Path, ports: list[int], count: int) -> None:
    db = sqlite3.connect(db_path, timeout=30)
    actor_id = db.execute("select id from local_actor where is_primary").fetchone()[0]
    rows = []
    for i in range(count):
        base = f"http://127.0.0.1:{ports[i % len(ports)]}/u/{i}"
        rows.append((actor_id, base, f"{base}/inbox", "", "",
                     "2026-01-01 00:00:00.000000"))
    db.executemany("insert into follower (actor_id, follower_uri, inbox, shared_inbox, "
                   "follow_activity_id, created_at) values (?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()


async def inbox_burst(remote: FakeRemote, url: str, handle: str, count: int,
                      actors: int = 10, concurrency: int = 64) -> int:
    """`count` signed 2 KB Creates from `actors` remote actors; returns how many got 202."""
    senders = [remote.actor(f"rss{i}") for i in range(actors)]
    inbox = f"{url}/actors/{handle}/inbox"
    requests = []
    for n in range(count):
        actor = senders[n % actors]
        doc = actor.activity(n=n)
        doc["object"]["content"] = "x" * 1800
        requests.append(actor.signed_post(inbox, doc))
    accepted = 0
    queue: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        while not queue.empty():
            body, headers = queue.get_nowait()
            for _ in range(5):  # a 429/503 while keys are first fetched is retried
                resp = await client.post(inbox, content=body, headers=headers)
                if resp.status_code not in (429, 503):
                    break
                await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
            accepted += resp.status_code == 202

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client) for _ in range(concurrency)))
    return accepted


def wait_drained(db_path: Path, timeout: float = 300.0) -> None:
    """Until no inbox row and no delivery is left queued."""
    db = sqlite3.connect(db_path, timeout=30)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            left = db.execute("select (select count(*) from inbox_item where state='queued') "
                              "+ (select count(*) from delivery where state='queued')"
                              ).fetchone()[0]
            if left == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{left} rows still queued after {timeout} s")
    finally:
        db.close()


def one_run(python: str, tmp: Path, args: argparse.Namespace, remote: FakeRemote | None,
            ports: list[int]) -> tuple[float, float | None]:
    data_dir = tmp / f"node-{time.monotonic_ns()}"
    data_dir.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    subprocess.run([python, "-m", "node.cli.main", "init", "--data-dir", str(data_dir),
                    "--url", url, "--handle", "rss", "--name", "RSS", "--level", "commune"],
                   env=env(), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    db_path = data_dir / "comuna.sqlite3"
    node_env = env(**dict(kv.split("=", 1) for kv in args.env))
    proc = subprocess.Popen([python, "-m", "node.cli.main", "serve", "--data-dir",
                             str(data_dir), "--port", str(port)], env=node_env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(url, proc)
        idle = settle(proc.pid)
        if args.pages:
            for path in ("/login", "/api/v1/bodies/rss", *args.get):
                httpx.get(url + path, timeout=60).raise_for_status()
        if remote is None:
            return idle, None
        if args.followers:
            add_followers(db_path, ports, args.followers)
            subprocess.run([python, "-m", "node.cli.main", "post", "--data-dir", str(data_dir),
                            "x" * 1800], env=env(), cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)
        if args.inbox:
            ok = asyncio.run(inbox_burst(remote, url, "rss", args.inbox))
            if ok != args.inbox:
                print(f"  only {ok} of {args.inbox} inbox POSTs answered 202", file=sys.stderr)
        wait_drained(db_path)
        time.sleep(args.after_wait)
        after = settle(proc.pid)
        return idle, after
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--python", default=str(RTVENV) if RTVENV.exists() else sys.executable)
    ap.add_argument("--inbox", type=int, default=2000, help="signed Creates (0: none)")
    ap.add_argument("--followers", type=int, default=2000, help="deliveries (0: none)")
    ap.add_argument("--hosts", type=int, default=100, help="sink ports for the followers")
    ap.add_argument("--after-wait", type=float, default=20.0,
                    help="seconds between the queues draining and the second measure "
                         "(idle kept-alive connections close after 4 s)")
    ap.add_argument("--pages", action="store_true",
                    help="ask for a web page and a JSON API answer after the idle measure "
                         "(they are loaded on first use)")
    ap.add_argument("--get", action="append", default=[], metavar="PATH",
                    help="with --pages, GET this path too (e.g. /api/openapi.json)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra environment for the node process (repeatable)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="comuna-rss-"))
    burst = bool(args.inbox or args.followers)
    remote = start_fake_remote() if burst else None
    ports: list[int] = []
    while args.followers and len(ports) < args.hosts:
        port = free_port()  # a port just freed can come back: keep them distinct
        if port not in ports:
            ports.append(port)
    sink = None
    if ports:
        sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "sink.py"),
                                 *map(str, ports)], stdout=subprocess.PIPE)
        assert sink.stdout is not None and sink.stdout.readline().strip() == b"ready"
    idles: list[float] = []
    afters: list[float] = []
    try:
        for n in range(args.runs):
            idle, after = one_run(args.python, tmp, args, remote, ports)
            idles.append(idle)
            if after is not None:
                afters.append(after)
            print(f"run {n + 1}: idle {idle:.1f} MB"
                  + (f", after burst {after:.1f} MB" if after is not None else ""),
                  file=sys.stderr)
    finally:
        if sink:
            sink.terminate()
        if remote:
            remote.close()
    print(f"python: {args.python}; load: {os.getloadavg()[0]:.2f}")
    print(f"idle RSS (MB), {args.runs} runs: {', '.join(f'{v:.1f}' for v in idles)}; "
          f"median {median(idles):.1f}")
    if afters:
        print(f"after {args.inbox} inbox POSTs and {args.followers} deliveries to "
              f"{args.hosts} hosts (MB): {', '.join(f'{v:.1f}' for v in afters)}; "
              f"median {median(afters):.1f}")


if __name__ == "__main__":
    main()
