"""`comuna verify` recomputes a federated decision from its signed parts: it holds for
an honest record, and any tampering, forged vote or vote outside its mandate shows."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from node.activitypub import keys
from node.activitypub.proofs import sign_object
from node.federations import objects, outcomes, verification
from node.governance.statute import Statute
from node.governance.tally import Counts, Electorate, tally

F = "https://ciudad.example/actors/ciudad"
A = "https://a.example/actors/a"
B = "https://b.example/actors/b"
M = "https://a.example/objects/matter"
KEYS = {who: keys.generate_ed25519() for who in (F, A, B)}
AS = "https://www.w3.org/ns/activitystreams"


def signed(doc: dict[str, Any], who: str) -> dict[str, Any]:
    return sign_object({"@context": AS, **doc}, KEYS[who], f"{who}#ed25519-key")


async def lookup(method: str) -> Ed25519PublicKey | None:
    key = KEYS.get(method.split("#", 1)[0])
    return key.public_key() if key else None


def mandate(
        who: str, position: str, version: int = 1, named: list[str] | None = None,
        speaker: str = "rosa"
) -> dict[str, Any]:
    return signed(objects.mandate_object(f"{who}/mandate-{position}-{version}", who, F, M,
                                         version, position,
                                         [f"{who.rsplit('/actors', 1)[0]}/members/{speaker}"],
                                         "2026-11-28T00:00:00Z", named), who)


def vote(
        who: str, m: dict[str, Any], choice: str, version: int = 1, speaker: str = "rosa"
) -> dict[str, Any]:
    return signed(objects.vote_object(f"{who}/vote-{choice}-{version}", who, M, version,
                                      m["id"], f"{who.rsplit('/actors', 1)[0]}/members/"
                                               f"{speaker}", choice,
                                      "2026-11-28T00:00:00Z"), who)


def decision(votes: list[dict[str, Any]], mandates: list[dict[str, Any]], yes: int, no: int,
             version: int = 1, amendments: list[dict[str, Any]] | None = None,
             statute: Statute | None = None, weights: dict[str, int] | None = None,
             outcome: str | None = None) -> dict[str, Any]:
    statute = statute or Statute()
    weights = weights or {A: 1, B: 1}
    result = tally(statute, Counts(yes=yes, no=no, families=yes + no),
                   Electorate(members=sum(weights.values()), families=sum(weights.values())))
    note = outcomes.decision_note("https://ciudad.example/objects/d", F, "T", "<p>x</p>", M,
                                  version, result, statute.to_dict(), weights,
                                  amendments or [], votes, mandates,
                                  f"{F}/followers", "2026-11-28T00:00:00Z")
    if outcome:
        note["outcome"] = outcome
    return signed(note, F)


def check(note: dict[str, Any]) -> verification.Report:
    return asyncio.run(verification.verify_decision(note, lookup))


def test_an_honest_decision_holds() -> None:
    ma, mb = mandate(A, "approve"), mandate(B, "reject")
    report = check(decision([vote(A, ma, "for"), vote(B, mb, "against")], [ma, mb], 1, 1))
    assert report.holds, report.problems
    assert report.outcome == "rejected" and report.counted["for"] == 1  # a tie


def test_tampering_shows() -> None:
    ma, mb = mandate(A, "approve"), mandate(B, "approve")
    va, vb = vote(A, ma, "for"), vote(B, mb, "for")
    note = decision([va, vb], [ma, mb], 2, 0)
    altered = json.loads(json.dumps(note))
    altered["mandatedVotes"][1]["choice"] = "against"  # after B signed it
    report = check(altered)
    assert not report.holds and any("proof" in p or "signature" in p for p in report.problems)
    # The federation's proof covers the votes it carries, and B's own proof fails.
    assert [(f.code, f.body) for f in report.findings][:2] == [("decision-proof", ""),
                                                                ("vote-proof", B)]
    # The federation re-signs a record whose counts the votes do not give.
    forged = decision([va], [ma, mb], 2, 0)
    assert not check(forged).holds
    assert {f.code for f in check(forged).findings} >= {"count-differs"}
    # Or states another outcome than its statute and votes give.
    other = check(decision([va, vb], [ma, mb], 2, 0, outcome="rejected"))
    assert [f.code for f in other.findings] == ["outcome-differs"]


def test_votes_outside_their_mandates_do_not_count() -> None:
    ma, mb = mandate(A, "reject"), mandate(B, "approve")
    cases = [
        (vote(A, ma, "for"), "vote-outside-mandate"),
        (vote(A, mb, "for"), "vote-mandate-other-body"),
        (vote(A, mandate(A, "approve"), "for", speaker="intrusa"), "vote-not-spokesperson"),
        (vote(A, ma, "against", version=2), "vote-other-version"),
    ]
    for bad, code in cases:
        report = check(decision([bad], [ma, mb, mandate(A, "approve")], 1, 0))
        assert not report.holds, bad
        assert (report.findings[0].code, report.findings[0].body) == (code, A), \
            report.findings


def test_a_mandate_carried_over_by_its_named_amendment_holds() -> None:
    amendment = "https://ciudad.example/amendments/7"
    mb = mandate(B, "approve_with_amendments", 1, [amendment])
    ma = mandate(A, "approve", 2)
    note = decision([vote(A, ma, "for", 2), vote(B, mb, "for", 2)], [ma, mb], 2, 0, version=2,
                    amendments=[{"id": amendment, "proposalVersion": 2}])
    assert check(note).holds, check(note).problems
    # Without the amendment in the chain, B's mandate for version 1 does not reach v2.
    bare = decision([vote(A, ma, "for", 2), vote(B, mb, "for", 2)], [ma, mb], 2, 0, version=2)
    assert not check(bare).holds


def test_weighting_by_families() -> None:
    ma, mb = mandate(A, "approve"), mandate(B, "reject")
    statute = Statute(weighting="families")
    note = decision([vote(A, ma, "for"), vote(B, mb, "against")], [ma, mb], 10, 3,
                    statute=statute, weights={A: 10, B: 3})
    report = check(note)
    assert report.holds and report.outcome == "adopted", report.problems
    assert report.counted == {"for": 10, "against": 3, "abstain": 0, "electorate": 13}
