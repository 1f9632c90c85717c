"""Barter matching over the offers and needs a node holds. Pure functions, no I/O.

Two jobs:

- `allocate`: inside one body, an offer meets a need of the same kind directly (the
  parties belong to the same commune, so nothing has to come back);
- `barter`: between bodies, an exchange is a closed cycle of gifts, A → B → … → A,
  in which every body gives and every body receives. Cycles are searched shortest
  first (two-way exchanges, then three bodies, and so on up to `max_cycle`), because
  fewer bodies means fewer agreements to reach and fewer deliveries to arrange.

Quantities are integers in the catalogue's base units (see catalogue.py); there are no
prices, so each gift in a cycle is as large as the giver's offer and the receiver's
need allow; the bodies judge the exchange when they accept it. docs/economy.md
explains the algorithm and what it finds.
"""

from __future__ import annotations

from collections import ChainMap, defaultdict
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field

INF = float("inf")


@dataclass
class Intent:
    """An offer or a need as the matcher sees it; `base` is what is left of it."""

    id: str
    party: str
    kind: str
    base: int
    start: float = -INF
    end: float = INF


@dataclass(frozen=True)
class Transfer:
    offer: str
    need: str
    giver: str
    receiver: str
    kind: str
    base: int
    # The delivery window: the overlap of the offer's and the need's windows.
    start: float
    end: float


@dataclass(frozen=True)
class Exchange:
    parties: tuple[str, ...]  # in cycle order: parties[i] gives to parties[i + 1]
    transfers: tuple[Transfer, ...]


def _overlap(a: Intent, b: Intent) -> tuple[float, float] | None:
    start, end = max(a.start, b.start), min(a.end, b.end)
    return (start, end) if start <= end else None


def _pair(offers: list[Intent], needs: list[Intent],
          left: MutableMapping[str, int]) -> list[Transfer]:
    """Fill needs from offers, earliest-ending first, using `left` as the remainders."""
    out: list[Transfer] = []
    for need in needs:
        want = left[need.id]
        if want <= 0:
            continue
        for offer in offers:
            have = left[offer.id]
            if have <= 0 or offer.party == need.party:
                continue
            window = _overlap(offer, need)
            if window is None:
                continue
            q = min(have, want)
            left[offer.id] = have - q
            want -= q
            out.append(Transfer(offer.id, need.id, offer.party, need.party, offer.kind, q,
                                window[0], window[1]))
            if want == 0:
                break
        left[need.id] = want
    return out


def _by_end(items: list[Intent]) -> list[Intent]:
    return sorted(items, key=lambda i: (i.end, i.start, i.id))


def allocate(offers: list[Intent], needs: list[Intent]) -> list[Transfer]:
    """Direct transfers inside one body: any offer to any need of the same kind."""
    left = {i.id: i.base for i in offers + needs}
    by_kind: dict[str, tuple[list[Intent], list[Intent]]] = defaultdict(lambda: ([], []))
    for o in offers:
        by_kind[o.kind][0].append(o)
    for n in needs:
        by_kind[n.kind][1].append(n)
    out: list[Transfer] = []
    for kind in sorted(by_kind):
        os_, ns = by_kind[kind]
        out.extend(_pair(_by_end(os_), _by_end(ns), left))
    return out


@dataclass
class _Graph:
    """Who could give to whom, kept current as quantities are used up."""

    offers: dict[tuple[str, str], list[Intent]] = field(default_factory=dict)
    needs: dict[tuple[str, str], list[Intent]] = field(default_factory=dict)
    gives: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    wants: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    out: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    into: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    left: dict[str, int] = field(default_factory=dict)
    givers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    takers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def build(cls, offers: list[Intent], needs: list[Intent]) -> _Graph:
        g = cls()
        grouped_o: dict[tuple[str, str], list[Intent]] = defaultdict(list)
        grouped_n: dict[tuple[str, str], list[Intent]] = defaultdict(list)
        for o in offers:
            if o.base > 0:
                grouped_o[(o.party, o.kind)].append(o)
        for n in needs:
            if n.base > 0:
                grouped_n[(n.party, n.kind)].append(n)
        g.offers = {k: _by_end(v) for k, v in grouped_o.items()}
        g.needs = {k: _by_end(v) for k, v in grouped_n.items()}
        g.left = {i.id: i.base for i in offers + needs}
        givers: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        takers: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        for (party, kind), items in g.offers.items():
            g.gives[party].add(kind)
            g.givers[kind].add(party)
            givers[kind].append((party, min(i.start for i in items), max(i.end for i in items)))
        for (party, kind), items in g.needs.items():
            g.wants[party].add(kind)
            g.takers[kind].add(party)
            takers[kind].append((party, min(i.start for i in items), max(i.end for i in items)))
        # Edges by each kind's outer windows; exact windows are checked when filling.
        for kind, gs in givers.items():
            for x, xs, xe in gs:
                out_x = g.out[x]
                for y, ys, ye in takers.get(kind, ()):
                    if x != y and xs <= ye and ys <= xe:
                        out_x.add(y)
                        g.into[y].add(x)
        g.prune(list(g.out) + list(g.into))
        return g

    def drop_edge(self, x: str, y: str) -> None:
        self.out[x].discard(y)
        self.into[y].discard(x)

    def prune(self, parties: Iterable[str]) -> None:
        """Remove parties that cannot be in any cycle (nothing in or nothing out),
        starting from `parties`, and whatever that leaves stranded."""
        stack = [p for p in parties if not self.out[p] or not self.into[p]]
        while stack:
            p = stack.pop()
            for y in list(self.out[p]):
                self.drop_edge(p, y)
                if not self.into[y]:
                    stack.append(y)
            for x in list(self.into[p]):
                self.drop_edge(x, p)
                if not self.out[x]:
                    stack.append(x)

    def cycle_through(self, start: str, max_len: int) -> list[str] | None:
        """Shortest cycle through `start` with at most `max_len` parties (BFS)."""
        back = self.into[start]
        if not back:
            return None
        parent: dict[str, str | None] = {start: None}
        frontier = [start]
        for _ in range(max_len - 1):
            nxt: list[str] = []
            for u in frontier:
                for v in self.out[u]:
                    if v in parent:
                        continue
                    parent[v] = u
                    if v in back:
                        path = [v]
                        while (p := parent[path[-1]]) is not None:
                            path.append(p)
                        return path[::-1]
                    nxt.append(v)
            if not nxt:
                return None
            frontier = nxt
        return None

    def plan_edge(self, x: str, y: str, left: MutableMapping[str, int]) -> list[Transfer]:
        out: list[Transfer] = []
        for kind in sorted(self.gives[x] & self.wants[y]):
            out.extend(_pair(self.offers[(x, kind)], self.needs[(y, kind)], left))
        return out

    def settle(self, x: str, kinds: set[str]) -> list[str]:
        """After x's offers or needs of `kinds` were used, drop the edges they carried.
        Only a kind used up changes the graph, and only towards parties that share it."""
        touched = []
        for kind in kinds:
            if kind in self.gives[x] and not any(self.left[i.id] for i in self.offers[(x, kind)]):
                self.gives[x].discard(kind)
                self.givers[kind].discard(x)
                for y in self.out[x] & self.takers[kind]:
                    if not self.gives[x] & self.wants[y]:
                        self.drop_edge(x, y)
                        touched.append(y)
            if kind in self.wants[x] and not any(self.left[i.id] for i in self.needs[(x, kind)]):
                self.wants[x].discard(kind)
                self.takers[kind].discard(x)
                for w in self.into[x] & self.givers[kind]:
                    if not self.gives[w] & self.wants[x]:
                        self.drop_edge(w, x)
                        touched.append(w)
        return touched


def barter(offers: list[Intent], needs: list[Intent], max_cycle: int = 6) -> list[Exchange]:
    """Closed exchange cycles between parties, shortest first."""
    g = _Graph.build(offers, needs)
    found: list[Exchange] = []
    for length in range(2, max_cycle + 1):
        for start in sorted(g.out):
            while (cycle := g.cycle_through(start, length)) is not None:
                # Planned on an overlay, kept only if every leg of the cycle can move.
                scratch: ChainMap[str, int] = ChainMap({}, g.left)
                legs = []
                for i, x in enumerate(cycle):
                    y = cycle[(i + 1) % len(cycle)]
                    leg = g.plan_edge(x, y, scratch)
                    if not leg:
                        # The outer windows promised more than the exact ones hold.
                        g.drop_edge(x, y)
                        break
                    legs.append(leg)
                else:
                    g.left.update(scratch.maps[0])
                    found.append(Exchange(tuple(cycle),
                                          tuple(t for leg in legs for t in leg)))
                    touched = list(cycle)
                    for i, x in enumerate(cycle):
                        used = {t.kind for t in legs[i]} | {t.kind for t in legs[i - 1]}
                        touched += g.settle(x, used)
                    g.prune(touched)
                    continue
                g.prune(cycle)
    return found


def matchable(offers: list[Intent], needs: list[Intent]) -> int:
    """An upper bound on what any matching could move: per kind, the smaller of what
    is offered and what is needed by some other party, summed."""
    offered: dict[str, int] = defaultdict(int)
    needed: dict[str, int] = defaultdict(int)
    for o in offers:
        offered[o.kind] += o.base
    for n in needs:
        needed[n.kind] += n.base
    return sum(min(offered[k], needed[k]) for k in offered)
