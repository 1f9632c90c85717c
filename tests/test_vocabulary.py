"""Every property our objects carry is either ActivityStreams 2.0 (checked against the
offline copy of its context), Data Integrity, or defined in the node's own JSON-LD
context, which docs/jsonld-context.md documents term by term."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from node.activitypub.documents import comuna_context
from node.activitypub.urls import Urls
from node.federations import objects, outcomes
from node.governance import polls
from node.governance.statute import Statute
from node.governance.tally import Counts, Electorate, tally
from node.models import LocalActor, Proposal
from node.models.base import utcnow

VECTORS = Path(__file__).parent / "vectors" / "contexts"
DOCS = Path(__file__).parent.parent / "docs" / "jsonld-context.md"


def _terms() -> set[str]:
    known = set(json.loads((VECTORS / "activitystreams.jsonld").read_text())["@context"])
    known |= set(comuna_context()["@context"])
    return known | {"@context", "proof", "id", "type"}


def _keys(doc: Any, out: set[str]) -> set[str]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.add(k)
            if k not in ("statute", "memberBodies", "proof", "contentMap"):  # literals, maps
                _keys(v, out)
    elif isinstance(doc, list):
        for v in doc:
            _keys(v, out)
    return out


def _examples() -> list[dict[str, Any]]:
    urls = Urls("https://comuna.example")
    now = objects.proposal_object("https://a.example/objects/m", "https://a.example/actors/a",
                                  "T", "texto", ["https://a.example/actors/a"], 2, "x",
                                  "https://c.example/amendments/1")
    mandate = objects.mandate_object("https://a.example/objects/mandate-1",
                                     "https://a.example/actors/a", "https://c.example/actors/c",
                                     "https://a.example/objects/m", 1,
                                     "approve_with_amendments", ["https://a.example/members/r"],
                                     "x", ["https://c.example/amendments/1"], "límites", 12,
                                     "2027-01-01T00:00:00Z")
    vote = objects.vote_object("https://a.example/objects/vote-1", "https://a.example/actors/a",
                               "https://a.example/objects/m", 1, mandate["id"],
                               "https://a.example/members/r", "for", "x")
    result = tally(Statute(), Counts(yes=1), Electorate(members=1, families=1))
    note = outcomes.decision_note("https://c.example/objects/d", "https://c.example/actors/c",
                                  "T", "<p>x</p>", now["id"], 1, result,
                                  Statute().to_dict(), {"https://a.example/actors/a": 1},
                                  [{"id": "https://c.example/amendments/1",
                                    "proposalVersion": 2}], [vote], [mandate],
                                  "https://c.example/actors/c/followers", "x")
    body = LocalActor(handle="c", name="C", level="city", actor_type="Group",
                      rsa_private_pem="", rsa_public_pem="", ed25519_private_pem="",
                      ed25519_public_multibase="")
    p = Proposal(id=1, body_id=1, current_version=1, vote_opened_at=utcnow(),
                 closes_at=utcnow() + timedelta(days=1))
    question = polls.question(urls, body, p, "T", Statute(), Counts(yes=1), closed=utcnow())
    return [now, mandate, vote, note, question]


def test_every_property_we_publish_is_defined() -> None:
    known = _terms()
    used: set[str] = set()
    for doc in _examples():
        _keys(doc, used)
    assert used - known == set(), used - known


def test_every_term_of_our_context_is_documented() -> None:
    text = DOCS.read_text()
    ours = {k for k, v in comuna_context()["@context"].items()
            if not k.startswith("@") and k not in ("comuna", "toot")}
    missing = {k for k in ours if f"`{k}`" not in text}
    assert not missing, missing


def test_every_property_of_the_economy_is_defined() -> None:
    from decimal import Decimal

    from node.economy import wire

    known = _terms() | set(wire.VF_CONTEXT)
    intent = wire.intent_object(wire.IntentDoc(
        "https://a.example/o/1", "https://a.example/actors/a", "offer",
        "https://a.example/actors/a/enterprises/gas", "https://w3id.org/comuna/resources#gas",
        "kilogram", Decimal(10), Decimal(4), "gas", "Plaza", utcnow(), utcnow(), 60,
        "https://w3id.org/comuna/resources#maize-flour"), "x")
    c = wire.CommitmentDoc("https://c.example/x#c0", "https://a.example/actors/a",
                           "https://b.example/actors/b", "https://a.example/o/1",
                           "https://b.example/o/2", "https://w3id.org/comuna/resources#gas",
                           "kilogram", Decimal(4), utcnow(), utcnow())
    agreement = wire.agreement_object("https://c.example/x", "https://c.example/actors/c", [c],
                                      "x")
    event = wire.event_object(wire.EventDoc("https://a.example/e/1", c.id, c.provider,
                                            c.receiver, c.kind, "kilogram", Decimal(1),
                                            utcnow(), "nota"))
    used: set[str] = set()
    for doc in (intent, agreement, event):
        _keys(doc, used)
    assert used - known == set(), used - known
    text = (DOCS.parent / "economy.md").read_text()
    missing = {k for k in wire.VF_CONTEXT if k not in ("vf", "om2") and f"`{k}`" not in text}
    assert not missing, missing
