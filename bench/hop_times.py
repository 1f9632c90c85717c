"""Where a federated matter's time goes, hop by hop, read from the nodes' own rows after
`federation_bench.py --keep DIR` (no node running):

    .venv/bin/python bench/hop_times.py DIR

For every matter of the run and every hop of its escalation and of its decision, two
spans per receiving node: sent → received (the sender's outbox row to the receiver's
inbox row, stamped once the signature is verified) and received → made (the inbox row to
what the node made of it: its own outbox row passing it on, or, at a commune, its
proposal row). Medians and p95 over every matter and node, in seconds; the first matter of
the run (the nodes' first contact) apart.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any


def level(handle: str) -> str:
    return {"t": "territory", "c": "city", "m": "commune"}[handle[0]]


def when(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def inner_kind(activity: dict[str, Any]) -> str:
    """'matter' for a proposal travelling, 'decision' for its decision, else ''."""
    while activity.get("type") == "Announce" and isinstance(activity.get("object"), dict):
        activity = activity["object"]
    obj = activity.get("object")
    if activity.get("type") == "Create" and isinstance(obj, dict):
        return {"Proposal": "matter", "Note": "decision"}.get(str(obj.get("type")), "")
    return ""


def matter_of(activity: dict[str, Any]) -> str:
    while activity.get("type") == "Announce" and isinstance(activity.get("object"), dict):
        activity = activity["object"]
    obj = activity.get("object") or {}
    return str(obj.get("matter") or obj.get("id") or "")


def read(node: Path) -> dict[str, Any]:
    db = sqlite3.connect(f"file:{node / 'comuna.sqlite3'}?mode=ro", uri=True)
    try:
        got: list[tuple[str, str, str, float]] = []  # kind, matter, activity id, received
        for aid, body, at in db.execute("SELECT activity_id, body, received_at FROM inbox_item"):
            a = json.loads(body)
            if inner_kind(a):
                got.append((inner_kind(a), matter_of(a), aid, when(at)))
        sent: dict[str, float] = {}
        made: dict[tuple[str, str], list[float]] = defaultdict(list)
        for aid, body, at in db.execute("SELECT activity_id, body, created_at FROM outbox_item"):
            a = json.loads(body)
            if inner_kind(a):
                sent[aid] = when(at)
                made[(inner_kind(a), matter_of(a))].append(when(at))
        for matter, created in db.execute(
                "SELECT matter, created_at FROM proposal WHERE matter != '' "
                "AND author_id IS NULL"):
            made[("matter", matter)].append(when(created))
        for matter, updated in db.execute(
                "SELECT matter, updated_at FROM proposal WHERE final_outcome != ''"):
            made[("decision", matter)].append(when(updated))
        return {"got": got, "sent": sent, "made": made}
    finally:
        db.close()


def main() -> None:
    root = Path(sys.argv[1])
    nodes = {p.name: read(p) for p in sorted(root.iterdir()) if (p / "comuna.sqlite3").exists()}
    sent_by = {aid: (h, at) for h, n in nodes.items() for aid, at in n["sent"].items()}
    # The first matter of the run is the nodes' first contact: shown apart.
    first: dict[str, float] = {}
    for n in nodes.values():
        for _kind, matter, _aid, received in n["got"]:
            first[matter] = min(first.get(matter, received), received)
    first_matter = min(first, key=first.__getitem__) if first else ""
    spans: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for h, n in nodes.items():
        for kind, matter, aid, received in n["got"]:
            if aid not in sent_by:
                continue
            sender, at = sent_by[aid]
            hop = f"{level(sender)} → {level(h)}" + (" (first)" if matter == first_matter
                                                       else "")
            spans[(kind, hop, "1 sent → received")].append(received - at)
            after = [m for m in n["made"][(kind, matter)] if m >= received]
            if after:
                spans[(kind, hop, "2 received → made")].append(min(after) - received)
    for (kind, hop, what), xs in sorted(spans.items()):
        xs.sort()
        print(f"{kind:9} {hop:30} {what:19} n={len(xs):4}  median {statistics.median(xs):.3f}"
              f"  p95 {xs[int(0.95 * (len(xs) - 1))]:.3f}  max {xs[-1]:.3f}")


if __name__ == "__main__":
    main()
