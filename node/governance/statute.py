"""A body's statute: how it decides. Plain data, validated, no I/O.

A vote is governed by the statute as it was when the vote opened: opening a vote
freezes the body's statute onto the proposal (or amendment) row, and everything
that reads the vote's rules afterwards goes through `statute_of_vote`. Otherwise a
facilitator could lift the secrecy of ballots already cast, or change the rule or
the quorum once the ballots show which way the vote is going.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from node.models import Amendment, LocalActor, Proposal


class Rule(StrEnum):
    majority = "majority"  # more for than against; abstentions do not count
    qualified = "qualified"  # for / (for + against) reaches the statute's fraction
    consent = "consent"  # adopted unless someone blocks (with a reason)


class QuorumBasis(StrEnum):
    members = "members"
    families = "families"


class StatuteError(ValueError):
    status = 422


@dataclass(frozen=True)
class Statute:
    rule: Rule = Rule.majority
    # For `qualified`: the share of for-votes among for+against needed (e.g. 2/3).
    threshold: Fraction = Fraction(2, 3)
    quorum_basis: QuorumBasis = QuorumBasis.members
    # Share of the electorate (members or families) that must take part.
    quorum: Fraction = Fraction(1, 2)
    voting_days: int = 7
    secret_ballot: bool = False
    # How a federation admits member bodies: at once ("open") or by its facilitators.
    admission: str = "facilitators"
    # How a federation counts its member bodies' votes: one body one vote ("bodies"),
    # or each body weighing as many families as it counts ("families").
    weighting: str = "bodies"

    def __post_init__(self) -> None:
        if not (Fraction(1, 2) <= self.threshold <= 1):
            raise StatuteError("a qualified majority must be between 1/2 and 1")
        if not (0 <= self.quorum <= 1):
            raise StatuteError("the quorum must be between 0 and 1")
        if not (1 <= self.voting_days <= 365):
            raise StatuteError("the voting period must be between 1 and 365 days")
        if self.admission not in ("open", "facilitators"):
            raise StatuteError("admission is 'open' or 'facilitators'")
        if self.weighting not in ("bodies", "families"):
            raise StatuteError("weighting is 'bodies' or 'families'")

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule.value,
            "threshold": str(self.threshold),
            "quorum_basis": self.quorum_basis.value,
            "quorum": str(self.quorum),
            "voting_days": self.voting_days,
            "secret_ballot": self.secret_ballot,
            "admission": self.admission,
            "weighting": self.weighting,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Statute:
        try:
            return cls(
                rule=Rule(str(data.get("rule", "majority"))),
                threshold=Fraction(str(data.get("threshold", "2/3"))),
                quorum_basis=QuorumBasis(str(data.get("quorum_basis", "members"))),
                quorum=Fraction(str(data.get("quorum", "1/2"))),
                voting_days=int(str(data.get("voting_days", 7))),
                secret_ballot=bool(data.get("secret_ballot", False)),
                admission=str(data.get("admission", "facilitators")),
                weighting=str(data.get("weighting", "bodies")),
            )
        except (ValueError, ZeroDivisionError) as exc:
            raise StatuteError(f"invalid statute: {exc}") from exc


def parse(text: str | None) -> Statute:
    """A statute as stored (JSON); an empty column means the defaults."""
    return Statute.from_dict(json.loads(text or "{}"))


def freeze(vote: Proposal | Amendment, body: LocalActor) -> Statute:
    """Opening a vote: keep the body's statute as it is now on the vote's row."""
    statute = parse(body.statute)
    vote.vote_statute = json.dumps(statute.to_dict())
    return statute


def statute_of_vote(vote: Proposal | Amendment, body: LocalActor) -> Statute:
    """The rules of this vote: frozen when it opened. A row with none (no vote opened
    yet, e.g. an assembly deciding during deliberation) follows the body's statute."""
    return parse(vote.vote_statute if vote.vote_statute else body.statute)
