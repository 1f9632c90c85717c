"""A proposal's life inside one commune, and the rules about who may act."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from node.config import Settings
from node.errors import Problem
from node.governance import amendments, decisions, proposals
from node.governance.statute import Rule
from node.models import AuditEntry, Decision, Member, OutboxItem, Proposal
from node.models.base import utcnow
from node.storage import audit
from tests.govfixtures import Commune, build_commune
from tests.helpers import id_of, stored


@pytest.fixture
def commune(node: Settings) -> Commune:
    return build_commune(node)


def _proposal(c: Commune, who: str = "m0") -> int:
    with c.session() as s:
        p = proposals.create(c.ctx.tx(s, c.people[who]), c.assembly, "Arreglar la bomba de agua",
                             "Comprar la pieza y repararla.", own_uri=c.ctx.urls.actor("maizal"))
        s.commit()
        return id_of(p)


def _force_close(c: Commune, pid: int) -> None:
    with c.session() as s:
        p = stored(s, Proposal, pid)
        p.closes_at = utcnow() - timedelta(seconds=1)
        s.add(p)
        s.commit()


def test_full_life_of_a_proposal(commune: Commune) -> None:
    c = commune
    pid = _proposal(c)
    with c.session() as s:
        p = stored(s, Proposal, pid)
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        proposals.comment(c.ctx.tx(s, c.people["m1"]), p, "¿Cuánto cuesta la pieza?")
        a = amendments.amend(c.ctx.tx(s, c.people["m1"]), p, "Arreglar la bomba de agua",
                            "Comprar la pieza, repararla y formar a dos vecinos.", "formación")
        assert amendments.decide(c.ctx.tx(s, c.people["m0"]), p, id_of(a), accept=True) == 2
        assert "+Comprar la pieza, repararla y formar a dos vecinos." in proposals.diff(s, p, 1, 2)
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p)
        with pytest.raises(Problem) as e:
            proposals.cast(c.ctx.tx(s, c.people["m0"]), p, 1, "for")  # old version
        assert e.value.code == "wrong-version"
        proposals.cast(c.ctx.tx(s, c.people["m0"]), p, 2, "against")
        proposals.cast(c.ctx.tx(s, c.people["m0"]), p, 2, "for")  # changed until close
        proposals.cast(c.ctx.tx(s, c.people["m1"]), p, 2, "for")
        proposals.cast(c.ctx.tx(s, c.people["m2"]), p, 2, "abstain")
        with pytest.raises(Problem) as e:
            decisions.close_vote(c.ctx.tx(s), p)
        assert e.value.code == "not-due"
        s.commit()
    _force_close(c, pid)
    with c.session() as s:
        assert decisions.close_due(c.ctx.tx(s)) != []
        s.commit()
        d = s.exec(select(Decision).where(Decision.proposal_id == pid)).one()
        record = json.loads(d.record)
        assert d.outcome == "adopted" and d.version == 2
        assert record["counts"] == {"for": 2, "against": 0, "abstain": 1, "block": 0,
                                    "participants": 3, "families": 2}
        assert record["electorate"]["members"] == 5  # four members and the facilitator
        assert {b["member"] for b in record["ballots"]} == {c.people[k].id for k in
                                                            ("m0", "m1", "m2")}
        # The poll announced when the vote opened, its final counts, then the decision.
        poll, counted, note = [json.loads(i.body) for i in s.exec(
            select(OutboxItem).order_by(col(OutboxItem.id))).all()]
        assert [(x["type"], x["object"]["type"]) for x in (poll, counted, note)] == [
            ("Create", "Question"), ("Update", "Question"), ("Create", "Note")]
        assert note["object"]["outcome"] == "adopted" and "aprobada" in note["object"]["content"]
        decisions.set_execution(c.ctx.tx(s, c.people["facil"]), d, "carried_out",
                                "Reparada el lunes")
        decisions.evaluate(c.ctx.tx(s, c.people["m1"]), d, 4, "Funciona")
        with pytest.raises(Problem):
            decisions.evaluate(c.ctx.tx(s, c.people["m1"]), d, 5, "otra vez")
        s.commit()
        assert stored(s, Proposal, pid).state == "evaluated"
        ok, bad = audit.verify_chain(s)
        assert ok and bad is None


def test_quorum_not_reached(commune: Commune) -> None:
    c = commune
    pid = _proposal(c)
    with c.session() as s:
        p = stored(s, Proposal, pid)
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p)
        proposals.cast(c.ctx.tx(s, c.people["m0"]), p, 1, "for")
        s.commit()
    _force_close(c, pid)
    with c.session() as s:
        decisions.close_due(c.ctx.tx(s))
        s.commit()
        assert s.exec(select(Decision)).one().outcome == "no_quorum"


def test_the_clock_closes_as_the_node_whoever_runs_it(commune: Commune) -> None:
    """`close_vote` closes as a coordinator when a member acts, as the node's clock
    otherwise; `close_due` is the clock's, even in a unit of work a member acts in, and
    the decision is the node's in the audit log either way."""
    c = commune
    pid = _proposal(c)
    with c.session() as s:
        p = stored(s, Proposal, pid)
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p)
        s.commit()
    _force_close(c, pid)
    with c.session() as s:
        with pytest.raises(Problem) as e:
            decisions.close_vote(c.ctx.tx(s, c.people["m0"]), stored(s, Proposal, pid))
        assert e.value.status == 403  # m0 does not coordinate: not the clock either
        s.rollback()
        assert decisions.close_due(c.ctx.tx(s, c.people["m0"])) != []
        s.commit()
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "decision.recorded")).one()
        assert entry.actor == "node"


def test_votes_of_members_who_left_do_not_count(commune: Commune) -> None:
    from node.governance import members

    c = commune
    pid = _proposal(c)
    with c.session() as s:
        p = stored(s, Proposal, pid)
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p)
        for k in ("m0", "m1", "m2"):
            proposals.cast(c.ctx.tx(s, c.people[k]), p, 1, "for")
        members.revoke(c.ctx.tx(s), c.people["m2"], c.assembly, "member")
        s.commit()
    _force_close(c, pid)
    with c.session() as s:
        decisions.close_due(c.ctx.tx(s))
        s.commit()
        rec = json.loads(s.exec(select(Decision)).one().record)
        assert rec["counts"]["for"] == 2 and rec["electorate"]["members"] == 4


def test_consent_block_needs_reason_and_rejects(node: Settings) -> None:
    c = build_commune(node, rule=Rule.consent, quorum=Fraction(0))
    pid = _proposal(c)
    with c.session() as s:
        p = stored(s, Proposal, pid)
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p)
        with pytest.raises(Problem) as e:
            proposals.cast(c.ctx.tx(s, c.people["m1"]), p, 1, "block")
        assert e.value.code == "block-needs-reason"
        proposals.cast(c.ctx.tx(s, c.people["m1"]), p, 1, "block", "Contamina el río")
        proposals.cast(c.ctx.tx(s, c.people["m0"]), p, 1, "for")
        s.commit()
    _force_close(c, pid)
    with c.session() as s:
        decisions.close_due(c.ctx.tx(s))
        s.commit()
        assert s.exec(select(Decision)).one().outcome == "rejected"


def test_in_person_assembly_records_a_decision(commune: Commune) -> None:
    c = commune
    pid = _proposal(c)
    with c.session() as s:
        p = stored(s, Proposal, pid)
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        _meeting, made = decisions.record_meeting(
            c.ctx.tx(s, c.people["facil"]), c.assembly, utcnow(), "Casa comunal", 5, 3,
            "1. Bomba de agua", "Se discutió y votó a mano alzada.",
            [{"proposal_id": pid, "for": 3, "against": 1, "abstain": 1}])
        s.commit()
        assert made[0].outcome == "adopted" and made[0].method == "assembly"
        with pytest.raises(Problem) as e:
            decisions.record_meeting(c.ctx.tx(s, c.people["facil"]), c.assembly, utcnow(),
                                     "x", 2, 1, "", "", [{"proposal_id": pid, "for": 3}])
        assert e.value.status in (409, 422)


ACTIONS: dict[str, Callable[[Session, Commune, Member, int], object]] = {
    "create": lambda s, c, who, pid: proposals.create(c.ctx.tx(s, who), c.assembly, "t", "x"),
    "deliberate": lambda s, c, who, pid: proposals.open_deliberation(c.ctx.tx(s, who), stored(s,
                                                                                              Proposal,
                                                                                    pid)),
    "open_vote": lambda s, c, who, pid: proposals.open_vote(c.ctx.tx(s, who),
                                                            stored(s, Proposal, pid)),
    "comment": lambda s, c, who, pid: proposals.comment(c.ctx.tx(s, who), stored(s, Proposal, pid),
                                                        "hola"),
    "meeting": lambda s, c, who, pid: decisions.record_meeting(
        c.ctx.tx(s, who), c.assembly, utcnow(), "x", 1, 1, "", "", []),
}
# Who may do what on the assembly's proposal (author m0, in deliberation for comment).
ALLOWED = {
    "create": {"m1", "facil"},
    "deliberate": {"facil"},
    "open_vote": {"facil"},
    "comment": {"m1", "facil"},
    "meeting": {"facil"},
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("who", ["outsider", "other", "m1", "facil"])
def test_authorization_matrix(commune: Commune, action: str, who: str) -> None:
    c = commune
    pid = _proposal(c)
    if action in ("comment", "open_vote"):
        with c.session() as s:
            proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), stored(s, Proposal, pid))
            s.commit()
    with c.session() as s:
        before = s.execute(text("select count(*) from audit_entry")).scalar()
        try:
            ACTIONS[action](s, c, c.people[who], pid)
            s.commit()
            allowed = True
        except Problem as exc:
            s.rollback()
            assert exc.status in (401, 403)
            allowed = False
        after = s.execute(text("select count(*) from audit_entry")).scalar()
    assert allowed == (who in ALLOWED[action])
    if not allowed:
        assert after == before  # a refused action changes nothing


def test_audit_log_is_append_only_and_tampering_is_detected(commune: Commune) -> None:
    c = commune
    with c.session() as s:
        with pytest.raises(Exception, match="append-only"):
            s.execute(text("update audit_entry set actor = 'x' where seq = 1"))
            s.commit()
        s.rollback()
        with pytest.raises(Exception, match="append-only"):
            s.execute(text("delete from audit_entry"))
            s.commit()
        s.rollback()
        assert audit.verify_chain(s) == (True, None)
        # Someone with direct database access removes the guard and edits an entry:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("alter table audit_entry disable trigger audit_entry_no_change"))
        else:
            s.execute(text("drop trigger audit_entry_no_update"))
        s.execute(text("update audit_entry set data = '{}' where seq = 2"))
        s.commit()
        assert audit.verify_chain(s) == (False, 2)


def test_node_closes_overdue_votes_when_it_starts(node: Settings) -> None:
    """The vote's deadline passed while the node was down: starting it closes the vote."""
    import time as _time

    from starlette.testclient import TestClient

    from node.app import create_app

    c = build_commune(node)
    pid = _proposal(c)
    with c.session() as s:
        p = stored(s, Proposal, pid)
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p)
        for k in ("m0", "m1", "m2"):
            proposals.cast(c.ctx.tx(s, c.people[k]), p, 1, "for")
        s.commit()
    _force_close(c, pid)  # the node is not running: nothing closes it yet
    with c.session() as s:
        assert stored(s, Proposal, pid).state == "vote"
    with TestClient(create_app(node, background=True), base_url=node.url):
        deadline = _time.monotonic() + 10
        while _time.monotonic() < deadline:
            with c.session() as s:
                if stored(s, Proposal, pid).state == "decided":
                    break
            _time.sleep(0.1)
    with c.session() as s:
        assert stored(s, Proposal, pid).state == "decided"
        assert s.exec(select(Decision)).one().outcome == "adopted"


def test_two_closes_of_the_same_vote_decide_once(commune: Commune) -> None:
    """The clock and a facilitator may close a due vote at the same moment: both read
    it open, only the first close counts, the second gets a 409."""
    c = commune
    pid = _proposal(c)
    with c.session() as s:
        p = stored(s, Proposal, pid)
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p)
        proposals.cast(c.ctx.tx(s, c.people["m1"]), p, 1, "for")
        s.commit()
    _force_close(c, pid)
    with c.session() as first, c.session() as second:
        p1, p2 = stored(first, Proposal, pid), stored(second, Proposal, pid)
        assert p1.state == p2.state == "vote"
        decisions.close_vote(c.ctx.tx(first), p1)
        first.commit()
        with pytest.raises(Problem) as e:
            decisions.close_vote(c.ctx.tx(second), p2)
        assert e.value.status == 409
        second.rollback()
    with c.session() as s:
        assert len(s.exec(select(Decision).where(Decision.proposal_id == pid)).all()) == 1
