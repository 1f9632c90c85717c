"""The objects a federated matter is made of, as they travel between nodes.

Each is signed on its own (FEP-8b32, eddsa-jcs-2022) by the body that made it,
besides the proof on the activity that carries it, so that it can be embedded in
a later object (a decision carries every vote and mandate behind it) and still be
checked by anyone. Building and reading them are pure functions here; what a
node does with them lives in matters.py, mandates.py and outcomes.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.errors import Problem

PROPOSAL = "Proposal"
MANDATE = "Mandate"
VOTE = "MandatedVote"
POSITIONS = ("approve", "reject", "abstain", "approve_with_amendments", "free")
CHOICES = ("for", "against", "abstain")


def refused(detail: str, code: str, status: int = 422) -> Problem:
    """A federated object refused; `status` is the code's registered one
    (node/errors/codes.py), though only the code and detail travel, in a Reject."""
    return Problem(status, code, detail)


def _str(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value:
        raise refused(f"{doc.get('type', 'object')} without {key}", "malformed")
    return value


def _int(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise refused(f"{doc.get('type', 'object')} without a valid {key}", "malformed")
    return value


def _uris(doc: dict[str, Any], key: str) -> list[str]:
    value = doc.get(key, [])
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, str) and v]


def member_uri(base: str, username: str) -> str:
    """How a person of a node is named in mandates and votes (not a separate actor:
    the body vouches for its own members)."""
    return f"{base}/members/{username}"


def amendment_uri(base: str, amendment_id: int) -> str:
    return f"{base}/amendments/{amendment_id}"


@dataclass(frozen=True)
class ProposalDoc:
    id: str
    author: str
    title: str
    text: str
    affects: list[str]
    version: int


def proposal_object(oid: str, author: str, title: str, text: str, affects: list[str],
                    version: int, published: str,
                    amendment: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": oid, "type": PROPOSAL, "attributedTo": author, "name": title,
        "content": text, "mediaType": "text/plain", "affects": sorted(set(affects)),
        "proposalVersion": version, "published": published,
    }
    if amendment:
        doc["amendedBy"] = amendment
    return doc


def read_proposal(doc: Any) -> ProposalDoc:
    if not isinstance(doc, dict) or doc.get("type") != PROPOSAL:
        raise refused("not a Proposal", "malformed")
    affects = _uris(doc, "affects")
    if not affects:
        raise refused("a proposal must name the bodies it affects", "malformed")
    content = doc.get("content")
    if not isinstance(content, str) or not content.strip():
        raise refused("a proposal needs a text", "malformed")
    return ProposalDoc(_str(doc, "id"), _str(doc, "attributedTo"),
                       str(doc.get("name") or "")[:300], content, affects,
                       _int(doc, "proposalVersion"))


@dataclass(frozen=True)
class MandateDoc:
    id: str
    member_body: str
    federation: str
    matter: str
    version: int
    position: str
    amendments: list[str]
    limits: str
    spokespersons: list[str]
    families: int
    expires: str | None


def mandate_object(oid: str, member_body: str, federation: str, matter: str, version: int,
                   position: str, spokespersons: list[str], published: str,
                   amendments: list[str] | None = None, limits: str = "",
                   families: int = 0, expires: str | None = None,
                   speaker_names: dict[str, str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": oid, "type": MANDATE, "attributedTo": member_body, "federation": federation,
        "matter": matter, "proposalVersion": version, "position": position,
        "spokespersons": sorted(set(spokespersons)), "amendments": sorted(set(amendments or [])),
        "limits": limits, "families": families, "published": published,
    }
    if expires:
        doc["endTime"] = expires
    named = {u: n[:200] for u, n in (speaker_names or {}).items() if u in doc["spokespersons"]}
    if named:
        # How the body's own people are called, so the federation's pages can name them.
        doc["spokespersonNames"] = named
    return doc


def read_mandate(doc: Any) -> MandateDoc:
    if not isinstance(doc, dict) or doc.get("type") != MANDATE:
        raise refused("not a Mandate", "malformed")
    position = doc.get("position")
    if position not in POSITIONS:
        raise refused(f"a mandate's position is one of {', '.join(POSITIONS)}", "malformed")
    speakers = _uris(doc, "spokespersons")
    if not speakers:
        raise refused("a mandate names at least one spokesperson", "malformed")
    families = doc.get("families", 0)
    expires = doc.get("endTime")
    return MandateDoc(_str(doc, "id"), _str(doc, "attributedTo"), _str(doc, "federation"),
                      _str(doc, "matter"), _int(doc, "proposalVersion"), str(position),
                      _uris(doc, "amendments"), str(doc.get("limits") or ""), speakers,
                      families if isinstance(families, int) and families >= 0 else 0,
                      expires if isinstance(expires, str) else None)


@dataclass(frozen=True)
class VoteDoc:
    id: str
    member_body: str
    matter: str
    version: int
    mandate: str
    spokesperson: str
    choice: str


def vote_object(oid: str, member_body: str, matter: str, version: int, mandate: str,
                spokesperson: str, choice: str, published: str) -> dict[str, Any]:
    return {"id": oid, "type": VOTE, "attributedTo": member_body, "matter": matter,
            "proposalVersion": version, "mandate": mandate, "spokesperson": spokesperson,
            "choice": choice, "published": published}


def read_vote(doc: Any) -> VoteDoc:
    if not isinstance(doc, dict) or doc.get("type") != VOTE:
        raise refused("not a MandatedVote", "malformed")
    choice = doc.get("choice")
    if choice not in CHOICES:
        raise refused(f"a vote's choice is one of {', '.join(CHOICES)}", "malformed")
    return VoteDoc(_str(doc, "id"), _str(doc, "attributedTo"), _str(doc, "matter"),
                   _int(doc, "proposalVersion"), _str(doc, "mandate"),
                   _str(doc, "spokesperson"), str(choice))


def allowed_choices(position: str, named: list[str], adopted: set[str]) -> set[str]:
    """What a spokesperson may vote under a mandate. `named` are the mandate's
    amendments; `adopted` the federation's amendments in the version being voted."""
    if position == "free":
        return set(CHOICES)
    if position == "approve":
        return {"for"}
    if position == "reject":
        return {"against"}
    if position == "abstain":
        return {"abstain"}
    # approve_with_amendments: approve once every named amendment is in the text.
    if named and set(named) <= adopted:
        return {"for"}
    return {"against", "abstain"}


def carries_over(position: str, named: list[str], amendment: str) -> bool:
    """Whether a mandate for the previous version still holds after `amendment` was
    adopted at the federation: only if it allows that amendment (or leaves the
    spokesperson free)."""
    return position == "free" or (position == "approve_with_amendments" and amendment in named)
