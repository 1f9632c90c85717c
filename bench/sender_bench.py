"""Delivery's HTTP client alone: POSTs per second from one asyncio process to
bench/sink.py, 50 at once, unsigned and RSA-signed, for our pool
(`node.outbox.connections`) and, if it is installed, aiohttp (what delivery used
before), in alternation; plus the resident memory each adds to a process that has
imported the app.

    .venv/bin/python bench/sender_bench.py [--posts 4000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from common import ROOT, env, free_port, median

_CLIENT = r"""
import asyncio, json, sys, time
rss = lambda: int(open('/proc/self/statm').read().split()[1]) * 4096 / 1e6
import node.app
which, url, posts, signed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
if signed:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from node.activitypub.httpsig.sign import sign_cavage
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
body = json.dumps({"type": "Create", "object": {"content": "x" * 1800}}).encode()
before = rss()

def headers():
    h = {"Content-Type": "application/activity+json"}
    if signed:
        h = sign_cavage("POST", url, "https://a.example/k", key, body=body, headers=h)
    return h

async def main():
    if which == "pool":
        from node.outbox import sender
        session = sender.make_session(True, 10.0, 50, idle_per_host=50)
        send = lambda: sender.post(session, url, body, headers())
    else:
        import aiohttp
        session = aiohttp.ClientSession()
        async def send():
            async with session.post(url, data=body, headers=headers()) as r:
                await r.read()
                return r
    sem = asyncio.Semaphore(50)
    async def one():
        async with sem:
            await send()
    await asyncio.gather(*(one() for _ in range(50)))  # warm: connections made
    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(posts)))
    took = time.perf_counter() - start
    await session.close()
    print(json.dumps({"per_second": posts / took, "rss_added": rss() - before}))

asyncio.run(main())
"""


def run(which: str, url: str, posts: int, signed: bool) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CLIENT, which, url, str(posts),
                          "1" if signed else "0"], env=env(), cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    try:
        import aiohttp  # noqa: F401
        clients = ["pool", "aiohttp"]
    except ImportError:
        clients = ["pool"]
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "sink.py"), str(port)])
    try:
        time.sleep(1.0)
        url = f"http://127.0.0.1:{port}/inbox"
        for signed in (False, True):
            seen: dict[str, list[dict[str, float]]] = {c: [] for c in clients}
            for _ in range(args.rounds):
                for c in clients:
                    seen[c].append(run(c, url, args.posts // (4 if signed else 1), signed))
            for c in clients:
                rates = [r["per_second"] for r in seen[c]]
                mem = [r["rss_added"] for r in seen[c]]
                print(f"{'signed' if signed else 'unsigned':8} {c:8} "
                      f"median {median(rates):7.0f}/s  runs {[round(r) for r in rates]}  "
                      f"memory added {median(mem):.1f} MB")
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
