"""A proposal's actions, offered <=> accepted: for every state a proposal (and an
amendment) can be in and every kind of person (its author, a coordinator, an
integrante, someone from outside, nobody logged in), each action the domain offers
succeeds and each one it does not offer is refused. Every attempt is rolled back,
so all of them start from the same rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from node.activitypub.urls import Urls
from node.errors import Problem
from node.governance import amendments, decisions, proposals
from node.governance.proposal_actions import (
    AMENDMENT,
    AMENDMENT_ACTIONS,
    EXECUTION,
    ON_SOME_AMENDMENT,
    PROPOSAL,
    PROPOSAL_ACTIONS,
    ProposalState,
    amendment_actions,
    available_actions,
)
from node.models import Amendment, Decision, Proposal
from node.models.base import utcnow
from node.tx import Tx
from tests.govfixtures import build_commune
from tests.helpers import stored

ROLES = {"author": "m0", "coordinator": "facil", "integrante": "m1", "outsider": "outsider",
         "anonymous": None}
PAST = timedelta(seconds=1)


def _new(c: Any, s: Session) -> Proposal:
    return proposals.create(c.ctx.tx(s, c.people["m0"]), c.assembly, "Huerto", "Sembrar maíz.",
                            own_uri=c.ctx.urls.actor(c.assembly.handle))


def _expire(s: Session, table: Any, oid: int) -> None:
    s.execute(update(table).where(col(table.id) == oid).values(closes_at=utcnow() - PAST))


def _amend(s: Session, urls: Urls, people: dict[str, Any], p: Proposal, amend: str) -> None:
    """An amendment to `p`: open, in a vote (or one now due), or stale (another adopted)."""
    a = amendments.amend(Tx(s, urls, people["m2"]), p, "Huerto", "Sembrar maíz y frijol.")
    if amend in ("voting", "voting-due"):
        amendments.open_vote(Tx(s, urls, people["facil"]), p, a.id or 0,
                             utcnow() + timedelta(hours=1))
    if amend == "voting-due":
        _expire(s, Amendment, a.id or 0)
    if amend == "stale":
        other = amendments.amend(Tx(s, urls, people["m3"]), p, "Huerto", "Otro texto.")
        amendments.decide(Tx(s, urls, people["m0"]), p, other.id or 0, True)


def _vote(s: Session, urls: Urls, people: dict[str, Any], p: Proposal, vote: str,
          execution: str, evaluated: bool) -> None:
    """`p`'s vote opened, then as far as `vote` says: cast and due, decided, carried out."""
    proposals.open_vote(Tx(s, urls, people["facil"]), p, utcnow() + timedelta(hours=1))
    if vote == "open":
        return
    for who in ("m0", "m1", "m2"):
        proposals.cast(Tx(s, urls, people[who]), p, p.current_version,
                       "for" if vote != "rejected" else "against")
    _expire(s, Proposal, p.id or 0)
    s.refresh(p)
    if vote == "due":
        return
    d = decisions.close_vote(Tx(s, urls), p)
    if execution:
        decisions.set_execution(Tx(s, urls, people["facil"]), d, execution, "")
    if evaluated:
        decisions.evaluate(Tx(s, urls, people["m1"]), d, 4, "Bien hecho")


def _build(c: Any) -> dict[str, int]:
    """One proposal in each situation worth telling apart; name -> id."""
    people = c.people
    out: dict[str, int] = {}
    with c.session() as s:
        def made(name: str, state: str = "deliberation", amend: str = "",
                 vote: str = "", execution: str = "", evaluated: bool = False) -> None:
            p = _new(c, s)
            out[name] = p.id or 0
            if state == "draft":
                return
            if state == "withdrawn":
                proposals.withdraw(c.ctx.tx(s, people["m0"]), p)
                return
            proposals.open_deliberation(c.ctx.tx(s, people["m0"]), p)
            if amend:
                _amend(s, c.ctx.urls, people, p, amend)
            if state != "deliberation":
                _vote(s, c.ctx.urls, people, p, vote, execution, evaluated)

        made("draft", "draft")
        made("withdrawn", "withdrawn")
        made("deliberation")
        made("deliberation, amendment open", amend="open")
        made("deliberation, amendment stale", amend="stale")
        made("deliberation, amendment voting", amend="voting")
        made("deliberation, amendment vote due", amend="voting-due")
        made("vote open", "vote", vote="open")
        made("vote due", "vote", vote="due")
        made("decided, adopted", "vote", vote="adopted")
        made("decided, rejected", "vote", vote="rejected")
        made("decided, in progress", "vote", vote="adopted", execution="in_progress")
        made("carried out", "vote", vote="adopted", execution="carried_out")
        made("evaluated", "vote", vote="adopted", execution="carried_out", evaluated=True)
        # A matter whose text is the federation's, and one its member bodies vote on.
        made("federated text", amend="")
        s.execute(update(Proposal).where(col(Proposal.id) == out["federated text"])
                  .values(answers_to="https://ciudad.example/actors/ciudad"))
        made("voted by mandates", "vote", vote="open")
        s.execute(update(Proposal).where(col(Proposal.id) == out["voted by mandates"])
                  .values(electorate="bodies"))
        s.commit()
    return out


def _amendments(s: Session, p: Proposal) -> list[Amendment]:
    return list(s.exec(select(Amendment).where(Amendment.proposal_id == p.id)
                       .order_by(col(Amendment.id))).all())


def _decision(s: Session, p: Proposal) -> Decision:
    d = s.exec(select(Decision).where(Decision.proposal_id == p.id)).first()
    if d is None:
        raise Problem(409, "bad-state", "no decision")
    return d


def _on_any(s: Session, urls: Urls, m: Any, p: Proposal, action: str) -> None:
    """Succeeds if the amendment action succeeds on some amendment of the proposal;
    each try in a session of its own, rolled back (SQLite's savepoints are not to be
    trusted for this)."""
    last: Problem = Problem(409, "bad-state", "no amendment")
    engine = s.get_bind()
    for a in _amendments(s, p):
        for name in ON_SOME_AMENDMENT[action]:
            with Session(engine, expire_on_commit=False) as mine:
                try:
                    _amendment_tries(urls)[name](mine, m, stored(mine, Proposal, p.id),
                                                 stored(mine, Amendment, a.id))
                    mine.flush()
                    return
                except Problem as exc:
                    last = exc
                finally:
                    mine.rollback()
    raise last


def _soon() -> Any:
    return utcnow() + timedelta(hours=2)


def _amendment_tries(urls: Urls
                     ) -> dict[str, Callable[[Session, Any, Proposal, Amendment], Any]]:
    return {
        "accept": lambda s, m, p, a: amendments.decide(Tx(s, urls, m), p, a.id or 0, True),
        "reject": lambda s, m, p, a: amendments.decide(Tx(s, urls, m), p, a.id or 0, False),
        "open_vote": lambda s, m, p, a: amendments.open_vote(Tx(s, urls, m), p, a.id or 0, _soon()),
        "vote": lambda s, m, p, a: amendments.cast(Tx(s, urls, m), p, a.id or 0, "against"),
        "close": lambda s, m, p, a: amendments.close_by(Tx(s, urls, m), a),
    }


def _on_some_amendment(urls: Urls, name: str) -> Callable[[Session, Any, Proposal], Any]:
    return lambda s, m, p: _on_any(s, urls, m, p, name)


def _attempts(c: Any) -> dict[str, Callable[[Session, Any, Proposal], Any]]:
    soon = _soon()
    return {
        "edit": lambda s, m, p: proposals.edit_draft(c.ctx.tx(s, m), p, "Huerto nuevo",
                                                     "Otro texto."),
        "withdraw": lambda s, m, p: proposals.withdraw(c.ctx.tx(s, m), p),
        "open_deliberation": lambda s, m, p: proposals.open_deliberation(c.ctx.tx(s, m), p),
        "comment": lambda s, m, p: proposals.comment(c.ctx.tx(s, m), p, "De acuerdo."),
        "amend": lambda s, m, p: amendments.amend(c.ctx.tx(s, m), p, "Huerto", "Texto enmendado."),
        **{name: _on_some_amendment(c.ctx.urls, name) for name in ON_SOME_AMENDMENT},
        "open_vote": lambda s, m, p: proposals.open_vote(c.ctx.tx(s, m), p, soon),
        "vote": lambda s, m, p: proposals.cast(c.ctx.tx(s, m), p, p.current_version, "for"),
        "close": lambda s, m, p: decisions.close_vote_by(c.ctx.tx(s, m), p),
        "execute": lambda s, m, p: decisions.set_execution(c.ctx.tx(s, m), _decision(s, p),
                                                           "in_progress", "En marcha"),
        "evaluate": lambda s, m, p: decisions.evaluate(c.ctx.tx(s, m), _decision(s, p), 5,
                                                       "Muy bien"),
    }


@pytest.fixture
def world(node: Any) -> Any:
    c = build_commune(node)
    return c, _build(c)


def test_every_action_offered_is_accepted_and_every_other_refused(world: Any) -> None:
    c, ids = world
    attempts = _attempts(c)
    assert set(attempts) == set(PROPOSAL_ACTIONS)
    mismatches, offered_somewhere = [], set()
    for situation, pid in ids.items():
        for role, username in ROLES.items():
            with Session(c.ctx.engine, expire_on_commit=False) as s:
                me = c.people[username] if username else None
                offered = set(available_actions(s, me, stored(s, Proposal, pid), utcnow()))
            offered_somewhere |= offered
            for action in PROPOSAL_ACTIONS:
                with Session(c.ctx.engine, expire_on_commit=False) as s:
                    p = stored(s, Proposal, pid)
                    try:
                        attempts[action](s, me, p)
                        s.flush()
                        ok, why = True, ""
                    except Problem as exc:
                        ok, why = False, exc.code
                    finally:
                        s.rollback()
                if ok != (action in offered):
                    mismatches.append((situation, role, action, "offered" if action in
                                       offered else "not offered", why or "accepted"))
    assert mismatches == [], "\n".join(map(str, mismatches))
    # The walk reaches every action, so none of them is checked only in its refusals.
    assert offered_somewhere == set(PROPOSAL_ACTIONS)


def test_amendment_actions_offered_are_accepted(world: Any) -> None:
    c, ids = world
    attempts = _amendment_tries(c.ctx.urls)
    mismatches, seen = [], set()
    for situation, pid in ids.items():
        with Session(c.ctx.engine) as s:
            aids = [a.id for a in _amendments(s, stored(s, Proposal, pid))]
        for aid in aids:
            for role, username in ROLES.items():
                me = c.people[username] if username else None
                with Session(c.ctx.engine, expire_on_commit=False) as s:
                    p = stored(s, Proposal, pid)
                    offered = set(amendment_actions(s, me, p, stored(s, Amendment, aid), utcnow()))
                seen |= offered
                for action in AMENDMENT_ACTIONS:
                    with Session(c.ctx.engine, expire_on_commit=False) as s:
                        p, a = stored(s, Proposal, pid), stored(s, Amendment, aid)
                        try:
                            attempts[action](s, me, p, a)
                            s.flush()
                            ok = True
                        except Problem:
                            ok = False
                        finally:
                            s.rollback()
                    if ok != (action in offered):
                        mismatches.append((situation, aid, role, action, action in offered))
    assert mismatches == []
    assert seen == set(AMENDMENT_ACTIONS)


def test_anonymous_and_outsiders_are_offered_nothing(world: Any) -> None:
    c, ids = world
    with Session(c.ctx.engine) as s:
        for pid in ids.values():
            p = stored(s, Proposal, pid)
            assert available_actions(s, None, p, utcnow()) == []
            assert available_actions(s, c.people["outsider"], p, utcnow()) == []


def test_a_state_moves_only_along_its_graph(world: Any) -> None:
    """A second close of the same vote, or an edit of a draft that meanwhile went to
    deliberation, is refused by the compare-and-set, not applied twice."""
    c, ids = world
    with Session(c.ctx.engine, expire_on_commit=False) as s1, \
            Session(c.ctx.engine, expire_on_commit=False) as s2:
        p1, p2 = stored(s1, Proposal, ids["draft"]), stored(s2, Proposal, ids["draft"])
        proposals.open_deliberation(c.ctx.tx(s1, c.people["m0"]), p1)
        s1.commit()
        with pytest.raises(Problem) as refused:
            PROPOSAL.move(s2, p2, "edit")
        s2.rollback()
        assert refused.value.code == "bad-state"
    states = {str(x) for x in ProposalState}
    for graph in (PROPOSAL, AMENDMENT, EXECUTION):
        for _action, sources, target in graph.describe():
            assert set(sources) | {target} <= {str(x) for x in graph.states}
    assert {t for _a, _s, t in PROPOSAL.describe()} | {"draft"} == states
