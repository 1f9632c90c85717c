"""Barter matching at a federation node: 10,000 offers and 10,000 needs of 500
bodies, in the units each body chose, over a few months of availability windows.

Each body makes a handful of things (its offers) and lacks others (its needs), as a
commune does; kinds come from the shared catalogue. Reports the time to convert and
match (median of --repeat runs, one core, nothing else running in the process) and
the share of the matchable quantity that the exchanges move.

usage: matcher_bench.py [--bodies N] [--intents N] [--repeat R] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from decimal import Decimal

import common  # noqa: F401  (puts the repository on sys.path)

from node.economy.catalogue import shared
from node.economy.matcher import Intent, barter, matchable

DAY = 86400.0


# One intent as the matcher benchmark makes it: id, party, kind, quantity, unit, start, end.
Raw = tuple[str, str, str, Decimal, str, float, float]


def workload(bodies: int, intents: int, seed: int) -> tuple[list[Raw], list[Raw]]:
    rng = random.Random(seed)
    cat = shared()
    kinds = sorted(cat.kinds)
    offers: list[Raw] = []
    needs: list[Raw] = []
    per_body = intents // bodies
    for b in range(bodies):
        party = f"https://n{b}.example/actors/commune"
        makes = rng.sample(kinds, 4)
        lacks = rng.sample([k for k in kinds if k not in makes], 6)
        for side, pool, out in (("o", makes, offers), ("n", lacks, needs)):
            for i in range(per_body):
                kind = rng.choice(pool)
                unit = rng.choice(cat.units_of(kind))
                qty = Decimal(rng.randint(1, 400))
                start = rng.uniform(0, 90) * DAY
                end = start + rng.uniform(7, 60) * DAY
                out.append((f"{party}/{side}{i}", party, kind, qty, unit, start, end))
    return offers, needs


def run_once(offers: list[Raw], needs: list[Raw]
             ) -> tuple[float, int, int, int, dict[int, int]]:
    cat = shared()
    t = time.perf_counter()
    o = [Intent(i, p, k, cat.to_base(k, q, u), s, e) for i, p, k, q, u, s, e in offers]
    n = [Intent(i, p, k, cat.to_base(k, q, u), s, e) for i, p, k, q, u, s, e in needs]
    found = barter(o, n)
    took = time.perf_counter() - t
    moved = sum(tr.base for ex in found for tr in ex.transfers)
    lengths: dict[int, int] = {}
    for ex in found:
        lengths[len(ex.parties)] = lengths.get(len(ex.parties), 0) + 1
    return took, moved, matchable(o, n), len(found), lengths


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bodies", type=int, default=500)
    ap.add_argument("--intents", type=int, default=10_000, help="offers, and as many needs")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    offers, needs = workload(args.bodies, args.intents, args.seed)
    times = []
    for _ in range(args.repeat):
        took, moved, bound, n, lengths = run_once(offers, needs)
        times.append(took)
    print(f"{len(offers)} offers, {len(needs)} needs, {args.bodies} bodies: "
          f"median {statistics.median(times):.3f} s, min {min(times):.3f} s, "
          f"max {max(times):.3f} s over {len(times)} runs")
    print(f"{n} exchanges; moved {moved / bound:.1%} of the matchable quantity "
          f"(upper bound: per kind, the smaller of offered and needed)")
    print("exchanges by number of bodies: " +
          ", ".join(f"{k}: {v}" for k, v in sorted(lengths.items())))


if __name__ == "__main__":
    main()
