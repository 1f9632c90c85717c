"""A commune with 2,000 members, 50 open proposals and 20,000 votes: latency of the
proposals page and the API list on one process, and the time to close a vote with
2,000 ballots.

    .venv/bin/python bench/governance_bench.py [--requests 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from common import ROOT, env, free_port, init_node, median, wait_healthy
from sqlalchemy import insert
from sqlmodel import Session

from node.config import load_settings
from node.context import build_context
from node.governance import decisions
from node.governance.passwords import hash_password
from node.models import Member, Membership, Proposal, ProposalVersion, Vote
from node.models.base import utcnow

MEMBERS = 2000
PROPOSALS = 50
VOTES = 20_000


def populate(data_dir: Path) -> tuple[int, int]:
    ctx = build_context(load_settings(data_dir))
    body = ctx.primary
    pw = hash_password("benchmark-password")
    now = utcnow()
    with Session(ctx.engine) as s:
        s.execute(insert(Member), [
            {"username": f"m{i}", "display_name": f"Miembro {i}", "password_hash": pw,
             "family": f"f{i // 4}", "language": "es", "created_at": now}
            for i in range(MEMBERS)])
        s.execute(insert(Membership), [
            {"member_id": i + 1, "body_id": body.id, "role": "member", "created_at": now}
            for i in range(MEMBERS)])
        closes = now + timedelta(days=3)
        s.execute(insert(Proposal), [
            {"body_id": body.id, "author_id": 1 + (i % MEMBERS), "state": "vote",
             "affects": "[]", "current_version": 1, "vote_opened_at": now, "closes_at": closes,
             "created_at": now, "updated_at": now} for i in range(PROPOSALS + 1)])
        s.execute(insert(ProposalVersion), [
            {"proposal_id": i + 1, "number": 1, "title": f"Propuesta {i}",
             "text": "Texto de la propuesta. " * 40, "author_id": 1, "origin": "initial",
             "created_at": now} for i in range(PROPOSALS + 1)])
        choices = ["for", "against", "abstain"]
        per = VOTES // PROPOSALS
        s.execute(insert(Vote), [
            {"proposal_id": 1 + p, "version": 1, "member_id": 1 + ((p * per + k) % MEMBERS),
             "choice": choices[k % 3], "reason": "", "cast_at": now}
            for p in range(PROPOSALS) for k in range(per)])
        # One more proposal where every member votes: the one we close.
        s.execute(insert(Vote), [
            {"proposal_id": PROPOSALS + 1, "version": 1, "member_id": m + 1,
             "choice": choices[m % 3], "reason": "", "cast_at": now} for m in range(MEMBERS)])
        s.commit()
    ctx.engine.dispose()
    return body.id or 0, PROPOSALS + 1


def latencies(url: str, n: int) -> list[float]:
    out = []
    with httpx.Client(timeout=10) as c:
        c.get(url)
        for _ in range(n):
            t = time.perf_counter()
            r = c.get(url)
            out.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.status_code
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    results: dict[str, list[float]] = {"page": [], "api": [], "close": []}
    for _ in range(args.rounds):
        tmp = Path(tempfile.mkdtemp(prefix="comuna-gbench-"))
        data_dir = tmp / "node"
        data_dir.mkdir()
        port = free_port()
        url = init_node(data_dir, port)
        _, close_id = populate(data_dir)
        proc = subprocess.Popen([sys.executable, "-m", "node.cli.main", "serve", "--data-dir",
                                 str(data_dir), "--port", str(port), "--no-background"],
                                env=env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            wait_healthy(url, proc)
            results["page"].append(p95(latencies(f"{url}/b/bench", args.requests)))
            results["api"].append(p95(latencies(
                f"{url}/api/v1/bodies/bench/proposals?limit=50", args.requests)))
        finally:
            proc.terminate()
            proc.wait()
        ctx = build_context(load_settings(data_dir))
        with Session(ctx.engine) as s:
            p = s.get(Proposal, close_id)
            assert p is not None
            p.closes_at = utcnow() - timedelta(seconds=1)
            s.add(p)
            s.commit()
            t = time.perf_counter()
            d = decisions.close_vote(ctx.tx(s), p)
            s.commit()
            results["close"].append(time.perf_counter() - t)
            assert d.record.count('"member"') == MEMBERS
        print(f"round: page p95 {results['page'][-1]:.1f} ms, api p95 "
              f"{results['api'][-1]:.1f} ms, close {results['close'][-1]:.3f} s",
              file=sys.stderr)
    print(f"| measure ({MEMBERS:,} members, {PROPOSALS} open proposals, {VOTES:,} votes; "
          f"{args.requests} sequential requests per round) | runs | median |")
    print("|---|---|---|")
    for key, label, unit in (("page", "proposals page /b/HANDLE, p95", "ms"),
                             ("api", "API list of 50 proposals, p95", "ms"),
                             ("close", "closing a vote with 2,000 ballots", "s")):
        runs = ", ".join(f"{v:.3f}" if unit == "s" else f"{v:.1f}" for v in results[key])
        med = median(results[key])
        print(f"| {label} ({unit}) | {runs} | {med:.3f} |" if unit == "s"
              else f"| {label} ({unit}) | {runs} | {med:.1f} |")


if __name__ == "__main__":
    main()
