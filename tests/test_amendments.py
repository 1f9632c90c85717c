"""Amendments put to the body's vote: adopted ones become versions, the rest leave the
text alone; the final vote waits for them; secret ballots forget choices once counted."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import select

from node.config import Settings
from node.errors import Problem
from node.governance import amendments, bodies, decisions, proposals
from node.governance.clock import close_due_now
from node.governance.statute import Statute
from node.models import Amendment, AmendmentVote, Proposal, Vote
from node.models.base import utcnow
from tests.govfixtures import Commune, build_commune
from tests.helpers import stored


@pytest.fixture
def commune(node: Settings) -> Commune:
    return build_commune(node)


def _in_deliberation(c: Commune) -> int:
    with c.session() as s:
        p = proposals.create(c.ctx.tx(s, c.people["m0"]), c.assembly, "Huerto", "Sembrar maíz.",
                             own_uri=c.ctx.urls.actor("maizal"))
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        s.commit()
        assert p.id is not None
        return p.id


def _amend(c: Commune, pid: int, who: str = "m1", text: str = "Sembrar maíz y caraotas.") -> int:
    with c.session() as s:
        a = amendments.amend(c.ctx.tx(s, c.people[who]), stored(s, Proposal, pid), "Huerto", text)
        s.commit()
        assert a.id is not None
        return a.id


def _put_to_vote(c: Commune, pid: int, aid: int) -> None:
    with c.session() as s:
        amendments.open_vote(c.ctx.tx(s, c.people["facil"]), stored(s, Proposal, pid), aid,
                             utcnow() + timedelta(hours=1))
        s.commit()


def _vote(c: Commune, pid: int, aid: int, **choices: str) -> None:
    with c.session() as s:
        for who, choice in choices.items():
            amendments.cast(c.ctx.tx(s, c.people[who]), stored(s, Proposal, pid), aid, choice)
        s.commit()


def _make_due(c: Commune, aid: int) -> None:
    with c.session() as s:
        a = stored(s, Amendment, aid)
        a.closes_at = utcnow() - timedelta(seconds=1)
        s.add(a)
        s.commit()


def test_an_amendment_adopted_by_vote_becomes_the_next_version(commune: Commune) -> None:
    c = commune
    pid = _in_deliberation(c)
    aid = _amend(c, pid)
    _put_to_vote(c, pid, aid)
    _vote(c, pid, aid, m0="against", m1="for", m2="for", m3="for")
    _vote(c, pid, aid, m0="for")  # changed until close
    with c.session() as s:
        with pytest.raises(Problem) as e:
            amendments.close(c.ctx.tx(s), stored(s, Amendment, aid))
        assert e.value.code == "not-due"
    _make_due(c, aid)
    close_due_now(c.ctx)
    with c.session() as s:
        p, a = stored(s, Proposal, pid), stored(s, Amendment, aid)
        assert a.state == "accepted" and a.resulting_version == 2 == p.current_version
        assert proposals.version(s, p).text == "Sembrar maíz y caraotas."
        assert proposals.version(s, p).origin == f"amendment:{aid}"
        record = json.loads(a.record)
        assert record["counts"]["for"] == 4 and record["outcome"] == "adopted"
        assert {b["member"] for b in record["ballots"]} == {
            c.people[k].id for k in ("m0", "m1", "m2", "m3")}


def test_an_amendment_voted_down_leaves_the_text(commune: Commune) -> None:
    c = commune
    pid = _in_deliberation(c)
    aid = _amend(c, pid)
    _put_to_vote(c, pid, aid)
    _vote(c, pid, aid, m0="against", m1="for", m2="against")
    _make_due(c, aid)
    close_due_now(c.ctx)
    with c.session() as s:
        assert stored(s, Amendment, aid).state == "rejected"
        assert stored(s, Proposal, pid).current_version == 1


def test_without_quorum_an_amendment_is_not_adopted(commune: Commune) -> None:
    c = commune
    pid = _in_deliberation(c)
    aid = _amend(c, pid)
    _put_to_vote(c, pid, aid)
    _vote(c, pid, aid, m1="for")  # 1 of 5: below the half quorum
    _make_due(c, aid)
    close_due_now(c.ctx)
    with c.session() as s:
        a = stored(s, Amendment, aid)
        assert a.state == "rejected" and json.loads(a.record)["outcome"] == "no_quorum"
        assert stored(s, Proposal, pid).current_version == 1


def test_the_final_vote_waits_for_open_amendment_votes(commune: Commune) -> None:
    c = commune
    pid = _in_deliberation(c)
    aid = _amend(c, pid)
    _put_to_vote(c, pid, aid)
    with c.session() as s:
        with pytest.raises(Problem) as e:
            proposals.open_vote(c.ctx.tx(s, c.people["facil"]), stored(s, Proposal, pid))
        assert e.value.status == 409 and e.value.code == "amendment-vote-open"
        assert stored(s, Proposal, pid).state == "deliberation"


def test_a_second_amendment_on_a_replaced_text_is_recorded_stale(commune: Commune) -> None:
    c = commune
    pid = _in_deliberation(c)
    first, second = _amend(c, pid), _amend(c, pid, "m2", "Sembrar yuca.")
    _put_to_vote(c, pid, first)
    _put_to_vote(c, pid, second)
    for aid in (first, second):
        _vote(c, pid, aid, m0="for", m1="for", m2="for")
        _make_due(c, aid)
    close_due_now(c.ctx)
    with c.session() as s:
        states = {stored(s, Amendment, a).state for a in (first, second)}
        assert states == {"accepted", "stale"}
        assert stored(s, Proposal, pid).current_version == 2


def test_who_may_act_on_amendment_votes(commune: Commune) -> None:
    c = commune
    pid = _in_deliberation(c)
    aid = _amend(c, pid)
    with c.session() as s:
        p = stored(s, Proposal, pid)
        for who in ("m1", "other", "outsider"):  # a member, another body's, nobody's
            with pytest.raises(Problem) as e:
                amendments.open_vote(c.ctx.tx(s, c.people[who]), p, aid)
            assert e.value.status == 403
        with pytest.raises(Problem) as e:
            amendments.cast(c.ctx.tx(s, c.people["m1"]), p, aid, "for")  # not open yet
        assert e.value.code == "vote-closed"
        s.rollback()
    _put_to_vote(c, pid, aid)
    with c.session() as s:
        p = stored(s, Proposal, pid)
        for who in ("other", "outsider"):
            with pytest.raises(Problem) as e:
                amendments.cast(c.ctx.tx(s, c.people[who]), p, aid, "for")
            assert e.value.status == 403
        with pytest.raises(Problem) as e:
            amendments.cast(c.ctx.tx(s, c.people["m1"]), p, aid, "block")  # majority statute
        assert e.value.code == "bad-choice"
        with pytest.raises(Problem) as e:
            amendments.decide(c.ctx.tx(s, c.people["m0"]), p, aid, True)  # the body decides now
        assert e.value.code == "bad-state"
        s.rollback()
    with c.session() as s:
        assert s.exec(select(AmendmentVote)).all() == []
        assert stored(s, Amendment, aid).state == "voting"
    _make_due(c, aid)
    with c.session() as s:
        with pytest.raises(Problem) as e:
            amendments.cast(c.ctx.tx(s, c.people["m1"]), stored(s, Proposal, pid), aid, "for")
        assert e.value.code == "vote-closed"


def test_secret_ballots_keep_no_choice_once_counted(commune: Commune) -> None:
    c = commune
    with c.session() as s:
        bodies.set_statute(c.ctx.tx(s), c.assembly, Statute(secret_ballot=True))
        s.commit()
    pid = _in_deliberation(c)
    aid = _amend(c, pid)
    _put_to_vote(c, pid, aid)
    _vote(c, pid, aid, m0="for", m1="for", m2="against")
    _make_due(c, aid)
    close_due_now(c.ctx)
    with c.session() as s:
        p = stored(s, Proposal, pid)
        assert {v.choice for v in s.exec(select(AmendmentVote))} == {"secret"}
        assert json.loads(stored(s, Amendment, aid).record)["ballots"] is None
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p)
        for who, choice in (("m0", "for"), ("m1", "against"), ("m2", "for")):
            proposals.cast(c.ctx.tx(s, c.people[who]), p, 2, choice, "porque sí")
        # Until close each member can still see and change their own choice.
        assert {v.choice for v in s.exec(select(Vote))} == {"for", "against"}
        p.closes_at = utcnow() - timedelta(seconds=1)
        s.add(p)
        s.commit()
    with c.session() as s:
        d = decisions.close_vote(c.ctx.tx(s), stored(s, Proposal, pid))
        s.commit()
        record = json.loads(d.record)
        assert record["counts"]["for"] == 2 and record["ballots"] is None
        assert {(v.choice, v.reason) for v in s.exec(select(Vote))} == {("secret", "")}
