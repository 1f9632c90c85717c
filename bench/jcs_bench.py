"""The cost of the object proofs' canonical form (RFC 8785) on the documents a node
verifies most: a federated decision as it travels down (its mandates and votes
embedded) and a matter, each the `Create` a commune receives.

    .venv/bin/python bench/jcs_bench.py [--runs 7] [--from DIR]

The documents come from a kept run of federation_bench.py if one is given (--from DIR:
the largest decision and `Create` a commune kept), else one of a decision's shape is made
here. Prints, for
rfc8785.dumps and node.activitypub.jcs.canonical, the median time per document over
`runs` timings of 200 serialisations each, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import rfc8785
from common import ROOT  # noqa: F401  (puts the project on the path)

from node.activitypub.jcs import canonical


def kept(root: Path) -> dict[str, Any]:
    """The first commune's received decision and matter, as kept (signed objects)."""
    node = next(p for p in sorted(root.iterdir()) if p.name.startswith("m"))
    db = sqlite3.connect(f"file:{node / 'comuna.sqlite3'}?mode=ro", uri=True)
    try:
        docs = {}
        for kind in ("Decision", "Create"):
            row = db.execute("SELECT body FROM signed_object WHERE type = ? ORDER BY "
                             "length(body) DESC LIMIT 1", (kind,)).fetchone()
            if row:
                docs[kind] = json.loads(row[0])
        return docs
    finally:
        db.close()


def made() -> dict[str, Any]:
    """A document of the same shape and size as a decision with five mandated votes."""
    proof = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
             "verificationMethod": "http://127.0.0.1:40001/actors/c0_0#ed25519-key",
             "proofPurpose": "assertionMethod", "created": "2026-12-01T01:02:03Z",
             "proofValue": "z" + "4" * 86}
    def part(kind: str, k: int) -> dict[str, Any]:
        return {"@context": ["https://www.w3.org/ns/activitystreams",
                             "http://127.0.0.1:40001/ns/comuna.jsonld"],
                "id": f"http://127.0.0.1:4000{k}/objects/{kind}-{k}", "type": kind,
                "attributedTo": f"http://127.0.0.1:4000{k}/actors/c0_{k}",
                "matter": "http://127.0.0.1:40009/objects/matter-1", "version": 1,
                "position": "free", "choice": "for", "spokesperson":
                f"http://127.0.0.1:4000{k}/members/rosa", "proof": proof}
    note = {"@context": ["https://www.w3.org/ns/activitystreams"], "type": "Note",
            "id": "http://127.0.0.1:40009/objects/decision-1", "outcome": "approved",
            "content": "Decisión de la federación sobre «Ronda 1»: aprobada.",
            "mandates": [part("Mandate", k) for k in range(5)],
            "votes": [part("MandatedVote", k) for k in range(5)], "proof": proof}
    return {"Decision": note}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--from", dest="source", default="")
    args = ap.parse_args()
    docs = kept(Path(args.source)) if args.source else made()
    for kind, doc in docs.items():
        assert canonical(doc) == rfc8785.dumps(doc)
        size = len(canonical(doc))
        medians = {}
        for name, f in (("rfc8785", rfc8785.dumps), ("canonical", canonical)):
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                for _ in range(200):
                    f(doc)
                times.append((time.perf_counter() - t) / 200)
            medians[name] = statistics.median(times)
        print(f"{kind} ({size} bytes): rfc8785 {medians['rfc8785'] * 1e3:.3f} ms, "
              f"canonical {medians['canonical'] * 1e3:.3f} ms, ratio "
              f"{medians['rfc8785'] / medians['canonical']:.1f}")


if __name__ == "__main__":
    main()
