"""The node's HTTP client (`node.activitypub.httpclient`) alone, against bench/sink.py,
each figure from a fresh process that has imported the app, clients in alternation:

- delivery: POSTs per second, 50 at once, unsigned and RSA-signed, our client against
  aiohttp (what delivery used before; measured only if it is installed), and the
  resident memory each adds;
- fetching: CPU per GET, one at a time and 10 at once, our client against httpx (what
  fetching used before).

    .venv/bin/python bench/http_client_bench.py [--posts 4000] [--gets 2000] [--rounds 3]
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
which, url, count, signed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
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

async def deliveries():
    if which == "ours":
        from node.outbox import sender
        session = sender.make_session(True, 10.0, 50, idle_per_host=50)
        send = lambda: sender.post(session, url, body, headers())
        close = session.aclose
    else:
        import aiohttp
        session = aiohttp.ClientSession()
        close = session.close
        async def send():
            async with session.post(url, data=body, headers=headers()) as r:
                await r.read()
    sem = asyncio.Semaphore(50)
    async def one():
        async with sem:
            await send()
    await asyncio.gather(*(one() for _ in range(50)))  # warm: connections made
    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    took = time.perf_counter() - start
    await close()
    return {"per_second": count / took, "rss_added": rss() - before}

async def fetches():
    if which == "ours":
        from node.activitypub.fetch import make_client
        client = make_client(True, 10.0)
        get = lambda: client.request("GET", url, {"Accept": "application/activity+json"})
        close = client.aclose
    else:
        import httpx
        client = httpx.AsyncClient(timeout=10.0)
        get = lambda: client.get(url, headers={"Accept": "application/activity+json"})
        close = client.aclose
    out = {}
    for at_once in (1, 10):
        sem = asyncio.Semaphore(at_once)
        async def one():
            async with sem:
                await get()
        await asyncio.gather(*(one() for _ in range(at_once)))
        cpu = time.process_time()
        await asyncio.gather(*(one() for _ in range(count)))
        out[f"cpu_ms_{at_once}"] = (time.process_time() - cpu) / count * 1000
    await close()
    return out

print(json.dumps(asyncio.run(deliveries() if sys.argv[5] == "post" else fetches())))
"""


def run(which: str, url: str, count: int, signed: bool, mode: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CLIENT, which, url, str(count),
                          "1" if signed else "0", mode], env=env(), cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=4000)
    ap.add_argument("--gets", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    try:
        import aiohttp  # noqa: F401
        senders = ["ours", "aiohttp"]
    except ImportError:
        senders = ["ours"]
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "sink.py"), str(port)])
    try:
        time.sleep(1.0)
        url = f"http://127.0.0.1:{port}/inbox"
        for signed in (False, True):
            seen: dict[str, list[dict[str, float]]] = {c: [] for c in senders}
            for _ in range(args.rounds):
                for c in senders:
                    seen[c].append(run(c, url, args.posts // (4 if signed else 1), signed,
                                       "post"))
            for c in senders:
                rates = [r["per_second"] for r in seen[c]]
                mem = [r["rss_added"] for r in seen[c]]
                print(f"POST {'signed' if signed else 'unsigned':8} {c:8} "
                      f"median {median(rates):7.0f}/s  runs {[round(r) for r in rates]}  "
                      f"memory added {median(mem):.1f} MB")
        got: dict[str, list[dict[str, float]]] = {"ours": [], "httpx": []}
        for _ in range(args.rounds):
            for c in got:
                got[c].append(run(c, url, args.gets, False, "get"))
        for c, runs in got.items():
            for at_once in (1, 10):
                cpu = [r[f"cpu_ms_{at_once}"] for r in runs]
                print(f"GET  {at_once:2} at once {c:8} median {median(cpu):.3f} ms of CPU "
                      f"per GET  runs {[round(x, 3) for x in cpu]}")
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
