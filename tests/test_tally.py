"""Property-based tests of the tally: for any ballots and any statute, the result is
what the statute says (ties, quorum, blocks, abstentions)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.governance.statute import QuorumBasis, Rule, Statute, StatuteError
from node.governance.tally import (
    Ballot,
    Choice,
    Counts,
    Electorate,
    Outcome,
    count_ballots,
    tally,
)

fractions = st.builds(Fraction, st.integers(0, 12), st.integers(1, 12)).filter(lambda f: f <= 1)
statutes = st.builds(
    Statute,
    rule=st.sampled_from(list(Rule)),
    threshold=fractions.filter(lambda f: f >= Fraction(1, 2)),
    quorum_basis=st.sampled_from(list(QuorumBasis)),
    quorum=fractions,
)
def statutes_with(rule: Rule, quorum: st.SearchStrategy[Fraction] = fractions
                  ) -> st.SearchStrategy[Statute]:
    return st.builds(Statute, rule=st.just(rule), quorum_basis=st.sampled_from(list(QuorumBasis)),
                     quorum=quorum)


counts = st.builds(Counts, yes=st.integers(0, 300), no=st.integers(0, 300),
                   abstain=st.integers(0, 300), block=st.integers(0, 5),
                   families=st.integers(0, 200))


@st.composite
def situations(draw: st.DrawFn) -> tuple[Counts, Electorate]:
    c = draw(counts)
    extra = draw(st.integers(0, 300))
    fam_extra = draw(st.integers(0, 100))
    return c, Electorate(members=c.participants + extra, families=c.families + fam_extra)


def expected(statute: Statute, c: Counts, e: Electorate) -> Outcome:
    """The rule written out independently, with plain integer arithmetic."""
    if statute.quorum_basis == QuorumBasis.members:
        base, part = e.members, c.participants
    else:
        base, part = e.families, c.families
    q = statute.quorum
    if (base == 0 and q > 0) or (base > 0 and part * q.denominator < q.numerator * base):
        return Outcome.no_quorum
    if statute.rule == Rule.consent:
        return Outcome.rejected if c.block else Outcome.adopted
    no = c.no + c.block
    if statute.rule == Rule.majority:
        return Outcome.adopted if c.yes > no else Outcome.rejected
    t = statute.threshold
    if c.yes + no == 0:
        return Outcome.rejected
    return Outcome.adopted if c.yes * t.denominator >= t.numerator * (c.yes + no) \
        else Outcome.rejected


@given(statutes, situations())
def test_tally_matches_the_rule(statute: Statute, situation: tuple[Counts, Electorate]) -> None:
    c, e = situation
    assert tally(statute, c, e).outcome == expected(statute, c, e)


@given(statutes, situations())
def test_one_more_vote_for_never_turns_adoption_into_rejection(
        statute: Statute, situation: tuple[Counts, Electorate]) -> None:
    c, e = situation
    before = tally(statute, c, e)
    more = Counts(c.yes + 1, c.no, c.abstain, c.block, c.families)
    after = tally(statute, more, Electorate(e.members + 1, e.families))
    if before.outcome == Outcome.adopted and after.quorum_met:
        assert after.outcome == Outcome.adopted


@given(statutes_with(Rule.consent), situations())
def test_under_consent_one_block_is_enough_and_against_is_not(
        statute: Statute, situation: tuple[Counts, Electorate]) -> None:
    c, e = situation
    result = tally(statute, c, e)
    if result.quorum_met:
        assert (result.outcome == Outcome.rejected) == (c.block > 0)


@given(statutes_with(Rule.majority, quorum=st.just(Fraction(0))), situations())
def test_majority_ties_are_rejected_and_abstentions_do_not_count(
        statute: Statute, situation: tuple[Counts, Electorate]) -> None:
    c, e = situation
    tie = Counts(c.yes, c.yes, c.abstain, 0, c.families)
    assert tally(statute, tie, Electorate(e.members + c.yes, e.families)).outcome == \
        Outcome.rejected
    more_abstain = Counts(c.yes, c.no, c.abstain + 50, c.block, c.families)
    assert tally(statute, more_abstain, Electorate(e.members + 50, e.families)).outcome \
        in (tally(statute, c, e).outcome, Outcome.no_quorum)


@given(st.lists(st.tuples(st.integers(0, 20), st.sampled_from(list(Choice)),
                          st.sampled_from(["f1", "f2", "f3", None])), max_size=60))
def test_one_member_one_vote_and_the_last_ballot_counts(
        raw: list[tuple[int, Choice, str | None]]) -> None:
    ballots = [Ballot(v, ch, fam) for v, ch, fam in raw]
    c = count_ballots(ballots)
    last: dict[int, Ballot] = {}
    for b in ballots:
        last[b.voter] = b
    assert c.participants == len(last)
    assert c.yes == sum(b.choice == Choice.yes for b in last.values())
    assert c.families == len({b.family for b in last.values() if b.family})


def test_examples() -> None:
    two_thirds = Statute(rule=Rule.qualified, threshold=Fraction(2, 3), quorum=Fraction(0))
    e = Electorate(30)
    assert tally(two_thirds, Counts(yes=20, no=10), e).outcome == Outcome.adopted
    assert tally(two_thirds, Counts(yes=19, no=10, abstain=1), e).outcome == Outcome.rejected
    family = Statute(quorum_basis=QuorumBasis.families, quorum=Fraction(1, 2))
    assert tally(family, Counts(yes=90, families=49), Electorate(300, 100)).outcome == \
        Outcome.no_quorum
    assert tally(family, Counts(yes=90, families=50), Electorate(300, 100)).outcome == \
        Outcome.adopted


def test_statute_validation() -> None:
    with pytest.raises(StatuteError):
        Statute(threshold=Fraction(1, 3))
    with pytest.raises(StatuteError):
        Statute(quorum=Fraction(3, 2))
    with pytest.raises(StatuteError):
        Statute.from_dict({"rule": "dictatorship"})
    s = Statute(rule=Rule.qualified, threshold=Fraction(3, 4))
    assert Statute.from_dict(s.to_dict()) == s
