"""The economy on the wire: FEP-0837 `Proposal`s publishing ValueFlows `Intent`s for
offers and needs, `Commitment`s and `Agreement`s for exchanges, `EconomicEvent`s for
deliveries. Builders and strict readers; a malformed document is a 422 and changes
nothing.

Our own context already names a governance `Proposal`, so these documents add the
ValueFlows terms in an inline context after it (later definitions win in JSON-LD),
as FEP-0837 itself does. docs/economy.md lists every term.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from node.economy.catalogue import fmt, quantity
from node.errors import Problem
from node.models.base import aware

VF = "https://w3id.org/valueflows/ont/vf#"
OM2 = "http://www.ontology-of-units-of-measure.org/resource/om-2/"
XSD = "http://www.w3.org/2001/XMLSchema#"

VF_CONTEXT: dict[str, Any] = {
    "vf": VF,
    "om2": OM2,
    "Proposal": "vf:Proposal",
    "Intent": "vf:Intent",
    "Commitment": "vf:Commitment",
    "Agreement": "vf:Agreement",
    "EconomicEvent": "vf:EconomicEvent",
    "purpose": "vf:purpose",
    "publishes": "vf:publishes",
    "reciprocal": "vf:reciprocal",
    "unitBased": "vf:unitBased",
    "action": "vf:action",
    "provider": {"@id": "vf:provider", "@type": "@id"},
    "receiver": {"@id": "vf:receiver", "@type": "@id"},
    "resourceConformsTo": {"@id": "vf:resourceConformsTo", "@type": "@id"},
    "resourceQuantity": "vf:resourceQuantity",
    "availableQuantity": "vf:availableQuantity",
    "hasUnit": "om2:hasUnit",
    "hasNumericalValue": "om2:hasNumericalValue",
    "hasBeginning": {"@id": "vf:hasBeginning", "@type": f"{XSD}dateTime"},
    "hasEnd": {"@id": "vf:hasEnd", "@type": f"{XSD}dateTime"},
    "hasPointInTime": {"@id": "vf:hasPointInTime", "@type": f"{XSD}dateTime"},
    "stipulates": {"@id": "vf:stipulates", "@type": "@id"},
    "satisfies": {"@id": "vf:satisfies", "@type": "@id"},
    "fulfills": {"@id": "vf:fulfills", "@type": "@id"},
    "finished": {"@id": "vf:finished", "@type": f"{XSD}boolean"},
    "riseAfter": {"@id": "https://w3id.org/comuna#riseAfter", "@type": f"{XSD}integer"},
    "Plan": "vf:Plan",
    "Process": "vf:Process",
    "planIncludes": "vf:planIncludes",
    "hasInput": "vf:hasInput",
    "hasOutput": "vf:hasOutput",
    "effortQuantity": "vf:effortQuantity",
}

OFFER, NEED = "offer", "request"  # FEP-0837 `purpose`


def contexts(ours: str) -> list[Any]:
    """ActivityStreams, our context, then the ValueFlows terms (which win)."""
    return ["https://www.w3.org/ns/activitystreams", ours, VF_CONTEXT]


def bad(detail: str) -> Problem:
    return Problem(422, "malformed", detail)


def stamp(value: datetime | None) -> str | None:
    # A client may send its own offset (-04:00): the Z written here must be UTC's.
    return aware(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def stamp_of(at: datetime) -> str:
    """A `published` stamp: `at` (the unit of work's "now") in UTC, to the second."""
    return aware(at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def when(value: Any, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        out = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad(f"{what} is not a date-time") from exc
    if out.tzinfo is None:
        raise bad(f"{what} needs a time zone")
    return out


def amount(unit: str, value: str | Decimal) -> dict[str, str]:
    return {"hasUnit": unit, "hasNumericalValue": fmt(Decimal(value))}


def read_amount(doc: Any, what: str, zero: bool = False) -> tuple[str, Decimal]:
    """An OM-2 amount; `zero`: 0 is meaningful (nothing left)."""
    if not isinstance(doc, dict):
        raise bad(f"{what} is missing")
    unit = doc.get("hasUnit")
    if not isinstance(unit, str) or not unit or len(unit) > 32:
        raise bad(f"{what} has no unit")
    try:
        return unit, quantity(doc.get("hasNumericalValue"), zero=zero)
    except Problem as exc:
        raise bad(f"{what}: {exc.detail}") from exc


def _uri(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise bad(f"{key} must be a URL")
    return value


# --- offers and needs ---------------------------------------------------------------


@dataclass(frozen=True)
class IntentDoc:
    id: str
    body: str
    side: str  # offer | need
    agent: str
    kind: str
    unit: str
    quantity: Decimal
    available: Decimal
    summary: str
    location: str
    starts_at: datetime | None
    ends_at: datetime | None
    rise_after: int
    in_return: str = ""


def intent_object(d: IntentDoc, published: str) -> dict[str, Any]:
    primary: dict[str, Any] = {
        "id": f"{d.id}#intent", "type": "Intent", "action": "transfer",
        "resourceConformsTo": d.kind,
        "resourceQuantity": amount(d.unit, d.quantity),
        "availableQuantity": amount(d.unit, d.available),
        ("provider" if d.side == "offer" else "receiver"): d.agent,
    }
    if d.starts_at:
        primary["hasBeginning"] = stamp(d.starts_at)
    if d.ends_at:
        primary["hasEnd"] = stamp(d.ends_at)
    doc: dict[str, Any] = {
        "id": d.id, "type": "Proposal", "attributedTo": d.body,
        "purpose": OFFER if d.side == "offer" else NEED, "unitBased": False,
        "name": d.summary[:300], "content": d.summary, "publishes": primary,
        "riseAfter": d.rise_after, "published": published,
    }
    if d.location:
        doc["location"] = {"type": "Place", "name": d.location}
    if d.in_return:
        doc["reciprocal"] = {
            "id": f"{d.id}#reciprocal", "type": "Intent", "action": "transfer",
            "resourceConformsTo": d.in_return,
            ("receiver" if d.side == "offer" else "provider"): d.agent}
    return doc


def is_intent(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("type") == "Proposal" and "publishes" in obj


def read_intent(doc: Any) -> IntentDoc:
    if not is_intent(doc):
        raise bad("not an offer or need (FEP-0837 Proposal)")
    purpose = doc.get("purpose")
    if purpose not in (OFFER, NEED):
        raise bad("purpose must be offer or request")
    side = "offer" if purpose == OFFER else "need"
    primary = doc.get("publishes")
    if not isinstance(primary, dict) or primary.get("type") != "Intent":
        raise bad("publishes must be an Intent")
    unit, total = read_amount(primary.get("resourceQuantity"), "resourceQuantity")
    # 0 left means gone (matched or withdrawn at its author): docs/economy.md.
    unit2, available = read_amount(primary.get("availableQuantity")
                                   or primary.get("resourceQuantity"), "availableQuantity",
                                   zero=True)
    if unit2 != unit or available > total:
        raise bad("availableQuantity must be in the same unit and not above the total")
    starts, ends = when(primary.get("hasBeginning"), "hasBeginning"), \
        when(primary.get("hasEnd"), "hasEnd")
    if starts and ends and ends < starts:
        raise bad("hasEnd is before hasBeginning")
    rise = doc.get("riseAfter", 0)
    if not isinstance(rise, int) or isinstance(rise, bool) or not 0 <= rise <= 365 * 86400:
        raise bad("riseAfter must be a number of seconds")
    place = doc.get("location")
    location = str(place.get("name") or "")[:500] if isinstance(place, dict) else ""
    reciprocal = doc.get("reciprocal")
    in_return = _uri(reciprocal, "resourceConformsTo") if isinstance(reciprocal, dict) else ""
    return IntentDoc(
        id=_uri(doc, "id"), body=_uri(doc, "attributedTo"), side=side,
        agent=_uri(primary, "provider" if side == "offer" else "receiver"),
        kind=_uri(primary, "resourceConformsTo"), unit=unit, quantity=total,
        available=available, summary=str(doc.get("content") or doc.get("name") or "")[:5000],
        location=location, starts_at=starts, ends_at=ends, rise_after=rise,
        in_return=in_return)


# --- exchanges ---------------------------------------------------------------------


@dataclass(frozen=True)
class CommitmentDoc:
    id: str
    provider: str
    receiver: str
    offer: str
    need: str
    kind: str
    unit: str
    quantity: Decimal
    starts_at: datetime | None
    ends_at: datetime | None


def commitment_object(c: CommitmentDoc) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": c.id, "type": "Commitment", "action": "transfer",
        "provider": c.provider, "receiver": c.receiver, "satisfies": [c.offer, c.need],
        "resourceConformsTo": c.kind, "resourceQuantity": amount(c.unit, c.quantity)}
    if c.starts_at:
        doc["hasBeginning"] = stamp(c.starts_at)
    if c.ends_at:
        doc["hasEnd"] = stamp(c.ends_at)
    return doc


def read_commitment(doc: Any) -> CommitmentDoc:
    if not isinstance(doc, dict) or doc.get("type") != "Commitment":
        raise bad("not a Commitment")
    sat = doc.get("satisfies")
    if not isinstance(sat, list) or len(sat) != 2 or not all(isinstance(s, str) for s in sat):
        raise bad("a commitment satisfies one offer and one need")
    unit, q = read_amount(doc.get("resourceQuantity"), "resourceQuantity")
    return CommitmentDoc(_uri(doc, "id"), _uri(doc, "provider"), _uri(doc, "receiver"),
                         sat[0], sat[1], _uri(doc, "resourceConformsTo"), unit, q,
                         when(doc.get("hasBeginning"), "hasBeginning"),
                         when(doc.get("hasEnd"), "hasEnd"))


def agreement_object(uri: str, proposer: str, commitments: list[CommitmentDoc],
                     published: str) -> dict[str, Any]:
    return {"id": uri, "type": "Agreement", "attributedTo": proposer, "published": published,
            "stipulates": [commitment_object(c) for c in commitments]}


def read_agreement(doc: Any) -> tuple[str, str, list[CommitmentDoc]]:
    if not isinstance(doc, dict) or doc.get("type") != "Agreement":
        raise bad("not an Agreement")
    items = doc.get("stipulates")
    if not isinstance(items, list) or not items or len(items) > 100:
        raise bad("an agreement stipulates between 1 and 100 commitments")
    return _uri(doc, "id"), _uri(doc, "attributedTo"), [read_commitment(c) for c in items]


# --- deliveries --------------------------------------------------------------------


@dataclass(frozen=True)
class EventDoc:
    id: str
    commitment: str
    provider: str
    receiver: str
    kind: str
    unit: str
    quantity: Decimal
    happened_at: datetime
    note: str


def event_object(e: EventDoc) -> dict[str, Any]:
    return {"id": e.id, "type": "EconomicEvent", "action": "transfer",
            "fulfills": e.commitment, "provider": e.provider, "receiver": e.receiver,
            "resourceConformsTo": e.kind, "resourceQuantity": amount(e.unit, e.quantity),
            "hasPointInTime": stamp(e.happened_at), "content": e.note}


def read_event(doc: Any) -> EventDoc:
    if not isinstance(doc, dict) or doc.get("type") != "EconomicEvent":
        raise bad("not an EconomicEvent")
    unit, q = read_amount(doc.get("resourceQuantity"), "resourceQuantity")
    at = when(doc.get("hasPointInTime"), "hasPointInTime")
    if at is None:
        raise bad("a delivery needs hasPointInTime")
    return EventDoc(_uri(doc, "id"), _uri(doc, "fulfills"), _uri(doc, "provider"),
                    _uri(doc, "receiver"), _uri(doc, "resourceConformsTo"), unit, q, at,
                    str(doc.get("content") or "")[:2000])
