"""Counting a vote under a statute. Pure functions: the same counts and statute
always give the same result, online ballots and in-person counts alike."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from node.governance.statute import QuorumBasis, Rule, Statute


class Choice(StrEnum):
    yes = "for"
    no = "against"
    abstain = "abstain"
    block = "block"  # only meaningful under consent; counts as against elsewhere


class Outcome(StrEnum):
    adopted = "adopted"
    rejected = "rejected"
    no_quorum = "no_quorum"


@dataclass(frozen=True)
class Counts:
    yes: int = 0
    no: int = 0
    abstain: int = 0
    block: int = 0
    # Families represented among those who took part (for a family quorum).
    families: int = 0

    @property
    def participants(self) -> int:
        return self.yes + self.no + self.abstain + self.block


@dataclass(frozen=True)
class Electorate:
    members: int
    families: int = 0


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    counts: Counts
    electorate: Electorate
    quorum_met: bool
    reason: str


@dataclass(frozen=True)
class Ballot:
    voter: int
    choice: Choice
    family: str | None = None


def count_ballots(ballots: Iterable[Ballot]) -> Counts:
    """One ballot per voter (the last one given wins, as a vote can change until close)."""
    last: dict[int, Ballot] = {}
    for b in ballots:
        last[b.voter] = b
    chosen = list(last.values())
    return Counts(
        yes=sum(b.choice == Choice.yes for b in chosen),
        no=sum(b.choice == Choice.no for b in chosen),
        abstain=sum(b.choice == Choice.abstain for b in chosen),
        block=sum(b.choice == Choice.block for b in chosen),
        families=len({b.family for b in chosen if b.family}),
    )


def quorum_met(statute: Statute, counts: Counts, electorate: Electorate) -> bool:
    if statute.quorum_basis == QuorumBasis.families:
        if electorate.families <= 0:
            return statute.quorum == 0
        return Fraction(counts.families, electorate.families) >= statute.quorum
    if electorate.members <= 0:
        return statute.quorum == 0
    return Fraction(counts.participants, electorate.members) >= statute.quorum


def tally(statute: Statute, counts: Counts, electorate: Electorate) -> Result:
    if not quorum_met(statute, counts, electorate):
        return Result(Outcome.no_quorum, counts, electorate, False,
                      f"quorum of {statute.quorum} of {statute.quorum_basis.value} not reached")
    if statute.rule == Rule.consent:
        if counts.block:
            return Result(Outcome.rejected, counts, electorate, True,
                          f"{counts.block} block(s)")
        return Result(Outcome.adopted, counts, electorate, True, "no blocks")
    # Outside consent a block is a vote against.
    against = counts.no + counts.block
    decided = counts.yes + against
    if statute.rule == Rule.majority:
        if counts.yes > against:
            return Result(Outcome.adopted, counts, electorate, True, "more for than against")
        reason = "tie" if counts.yes == against else "more against than for"
        return Result(Outcome.rejected, counts, electorate, True, reason)
    if decided == 0:
        return Result(Outcome.rejected, counts, electorate, True, "no votes for or against")
    if Fraction(counts.yes, decided) >= statute.threshold:
        return Result(Outcome.adopted, counts, electorate, True,
                      f"{counts.yes}/{decided} reaches {statute.threshold}")
    return Result(Outcome.rejected, counts, electorate, True,
                  f"{counts.yes}/{decided} is below {statute.threshold}")
