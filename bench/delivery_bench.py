"""Delivery throughput: signed deliveries per second from one node to a local sink,
with N `comuna worker` processes, beside RSA-2048 signatures per second on one core.

    .venv/bin/python bench/delivery_bench.py [--deliveries 8000] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, env, free_port, init_node, median


def rsa_signs_per_second(seconds: float = 2.0) -> float:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = b"x" * 300
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        n += 1
    return n / (time.perf_counter() - start)


def setup(data_dir: Path, ports: list[int], count: int) -> None:
    from sqlmodel import Session

    from node.config import load_settings
    from node.context import build_context
    from node.models import Follower
    from node.outbox.publish import post_note

    ctx = build_context(load_settings(data_dir))
    actor_id = ctx.primary.id
    assert actor_id is not None
    with Session(ctx.engine) as s:
        for i in range(count):
            port = ports[i % len(ports)]
            s.add(Follower(actor_id=actor_id, follower_uri=f"http://127.0.0.1:{port}/u/{i}",
                           inbox=f"http://127.0.0.1:{port}/u/{i}/inbox"))
        s.commit()
        post_note(ctx.tx(s), ctx.primary, "x" * 1500)
        s.commit()
    ctx.engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deliveries", type=int, default=8000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hosts", type=int, default=8)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="comuna-dbench-"))
    data_dir = tmp / "node"
    data_dir.mkdir()
    init_node(data_dir, free_port())
    ports = [free_port() for _ in range(args.hosts)]
    sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "sink.py"),
                             *map(str, ports)], stdout=subprocess.PIPE)
    assert sink.stdout is not None and sink.stdout.readline().strip() == b"ready"
    setup(data_dir, ports, args.deliveries)
    db = sqlite3.connect(data_dir / "comuna.sqlite3", timeout=30)
    signs = []
    rates = []
    try:
        for rnd in range(args.rounds):
            signs.append(rsa_signs_per_second())
            db.execute("update delivery set state='queued', attempts=0, lease_owner=null, "
                       "lease_until=null, next_attempt_at='2000-01-01 00:00:00.000000'")
            db.commit()
            workers = [subprocess.Popen(
                [sys.executable, "-m", "node.cli.main", "worker", "--data-dir", str(data_dir),
                 "--delivery-only"], env=env(), cwd=ROOT) for _ in range(args.workers)]
            start = time.perf_counter()
            done = 0
            while done < args.deliveries:
                time.sleep(0.05)
                done = db.execute("select count(*) from delivery where state != 'queued'"
                                  ).fetchone()[0]
                if time.perf_counter() - start > 300:
                    raise RuntimeError("deliveries did not finish")
            elapsed = time.perf_counter() - start
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait()
            ok = db.execute("select count(*) from delivery where state='delivered'").fetchone()[0]
            rates.append(ok / elapsed)
            print(f"round {rnd + 1}: {ok} delivered in {elapsed:.2f} s = {ok / elapsed:,.0f}/s;"
                  f" RSA signs {signs[-1]:,.0f}/s", file=sys.stderr)
    finally:
        sink.terminate()
        sink.wait()
    print(f"| measure ({args.workers} worker processes, {args.deliveries:,} deliveries to "
          f"{args.hosts} sink hosts) | runs | median |")
    print("|---|---|---|")
    print(f"| signed deliveries per second | {', '.join(f'{r:,.0f}' for r in rates)} | "
          f"{median(rates):,.0f} |")
    print(f"| RSA-2048 signatures per second, one core | "
          f"{', '.join(f'{r:,.0f}' for r in signs)} | {median(signs):,.0f} |")
    print(f"\ndeliveries / single-core signing = {median(rates) / median(signs):.2f}")


if __name__ == "__main__":
    main()
