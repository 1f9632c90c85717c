"""A vote is governed by the statute as it was when the vote opened. Changing the
statute mid-vote (lifting secrecy, another rule, a higher quorum) changes nothing for
that vote, only for the votes opened after it; amendment votes likewise."""

from __future__ import annotations

import json
from datetime import timedelta
from fractions import Fraction
from typing import Any

import pytest
from sqlmodel import Session, col, select

from node.config import Settings
from node.errors import Problem
from node.governance import amendments, bodies, decisions, proposals
from node.governance.clock import close_due_now
from node.governance.statute import Rule, Statute, statute_of_vote
from node.models import (
    Amendment,
    AmendmentVote,
    AuditEntry,
    Decision,
    OutboxItem,
    Proposal,
    Vote,
)
from node.models.base import utcnow
from tests.conftest import Databases
from tests.govfixtures import Commune, build_commune
from tests.helpers import id_of, stored

# Two for, one against, of four members: adopted by simple majority with half the
# members as quorum; not by unanimity, nor with everyone required to take part.
CHOICES = {"m0": "for", "m1": "for", "m2": "against"}
STRICTER = [Statute(rule=Rule.qualified, threshold=Fraction(1)), Statute(quorum=Fraction(1))]


@pytest.fixture
def commune(node: Settings) -> Commune:
    return build_commune(node)


def _set(c: Commune, statute: Statute) -> None:
    with c.session() as s:
        bodies.set_statute(c.ctx.tx(s), c.assembly, statute)
        s.commit()


def _open_vote(c: Commune, title: str = "Agua para el barrio") -> int:
    with c.session() as s:
        p = proposals.create(c.ctx.tx(s, c.people["m0"]), c.assembly, title, "Reparar la bomba.",
                             own_uri=c.ctx.urls.actor("maizal"))
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p)
        s.commit()
        return id_of(p)


def _cast(c: Commune, pid: int, choices: dict[str, str], reason: str = "") -> None:
    with c.session() as s:
        p = stored(s, Proposal, pid)
        for who, choice in choices.items():
            proposals.cast(c.ctx.tx(s, c.people[who]), p, p.current_version, choice, reason)
        s.commit()


def _close(c: Commune, pid: int) -> tuple[str, dict[str, Any]]:
    with c.session() as s:
        p = stored(s, Proposal, pid)
        p.closes_at = utcnow() - timedelta(seconds=1)
        s.add(p)
        s.commit()
    close_due_now(c.ctx)
    with c.session() as s:
        d = s.exec(select(Decision).where(Decision.proposal_id == pid)).one()
        return d.outcome, json.loads(d.record)


def test_lifting_secrecy_mid_vote_reveals_no_choice(commune: Commune) -> None:
    c = commune
    _set(c, Statute(secret_ballot=True))
    pid = _open_vote(c)
    _cast(c, pid, CHOICES, "mis razones")
    _set(c, Statute(secret_ballot=False))
    _cast(c, pid, {"m3": "for"}, "también")  # cast after the change: still secret
    outcome, record = _close(c, pid)
    assert outcome == "adopted" and record["counts"]["for"] == 3
    assert record["ballots"] is None and record["statute"]["secret_ballot"] is True
    with c.session() as s:
        assert {(v.choice, v.reason) for v in s.exec(select(Vote))} == {("secret", "")}
        casts = s.exec(select(AuditEntry).where(AuditEntry.action == "vote.cast")).all()
        assert len(casts) == 4
        assert {json.loads(e.data)["choice"] for e in casts} == {"secret"}


@pytest.mark.parametrize("stricter", STRICTER, ids=["unanimity", "full-quorum"])
def test_a_stricter_rule_mid_vote_does_not_apply_to_it_but_to_the_next(commune: Commune,
                                                                       stricter: Statute) -> None:
    c = commune
    pid = _open_vote(c)
    _cast(c, pid, CHOICES)
    _set(c, stricter)
    outcome, record = _close(c, pid)
    assert outcome == "adopted" and record["statute"] == Statute().to_dict()
    # The next vote opens under the statute as changed.
    nxt = _open_vote(c, "Otra cosa")
    _cast(c, nxt, CHOICES)
    outcome, record = _close(c, nxt)
    assert outcome != "adopted" and record["statute"] == stricter.to_dict()


def test_consent_brought_in_mid_vote_allows_no_block(node: Settings) -> None:
    c = build_commune(node, quorum=Fraction(0))
    pid = _open_vote(c)
    _cast(c, pid, {"m0": "for"})
    _set(c, Statute(rule=Rule.consent, quorum=Fraction(0)))
    with c.session() as s:
        with pytest.raises(Problem) as e:
            proposals.cast(c.ctx.tx(s, c.people["m1"]), stored(s, Proposal, pid), 1, "block", "No")
        assert e.value.code == "bad-choice"
    outcome, record = _close(c, pid)
    assert outcome == "adopted" and record["statute"]["rule"] == "majority"


def test_the_poll_keeps_the_options_it_opened_with(node: Settings) -> None:
    c = build_commune(node, rule=Rule.consent, quorum=Fraction(0))
    pid = _open_vote(c)
    _cast(c, pid, {"m0": "for", "m1": "block"}, "Contamina el río")
    _set(c, Statute(rule=Rule.majority, quorum=Fraction(0)))
    outcome, _ = _close(c, pid)
    assert outcome == "rejected"  # blocked under the consent it opened with
    with c.session() as s:
        items = {i.activity_type: json.loads(i.body) for i in s.exec(select(OutboxItem).where(
            col(OutboxItem.activity_type).in_(["Create", "Update"]),
            OutboxItem.object_id == c.ctx.urls.obj(f"vote-{pid}")))}
    opened, closed = items["Create"]["object"], items["Update"]["object"]
    assert [o["name"] for o in closed["oneOf"]] == [o["name"] for o in opened["oneOf"]] == [
        "A favor", "En contra", "Abstención", "Bloqueo"]
    assert [o["replies"]["totalItems"] for o in closed["oneOf"]] == [1, 0, 0, 1]


def test_an_assembly_deciding_an_open_vote_uses_its_rules(commune: Commune) -> None:
    c = commune
    pid = _open_vote(c)
    _set(c, Statute(quorum=Fraction(1)))
    with c.session() as s:
        _, [d] = decisions.record_meeting(
            c.ctx.tx(s, c.people["facil"]), c.assembly, utcnow(), "Casa comunal", 3, 2,
            "", "", [{"proposal_id": pid, "for": 2, "against": 1}])
        s.commit()
        assert d.outcome == "adopted"
        assert json.loads(d.record)["statute"]["quorum"] == "1/2"


def _amendment_vote(c: Commune) -> tuple[int, int]:
    with c.session() as s:
        p = proposals.create(c.ctx.tx(s, c.people["m0"]), c.assembly, "Huerto", "Sembrar maíz.",
                             own_uri=c.ctx.urls.actor("maizal"))
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        a = amendments.amend(c.ctx.tx(s, c.people["m1"]), p, "Huerto", "Sembrar maíz y caraotas.")
        amendments.open_vote(c.ctx.tx(s, c.people["facil"]), p, id_of(a),
                             utcnow() + timedelta(hours=1))
        s.commit()
        return id_of(p), id_of(a)


def _amendment_cast(c: Commune, pid: int, aid: int, choices: dict[str, str]) -> None:
    with c.session() as s:
        for who, choice in choices.items():
            amendments.cast(c.ctx.tx(s, c.people[who]), stored(s, Proposal, pid), aid, choice,
                            "razón")
        s.commit()


def _amendment_close(c: Commune, aid: int) -> tuple[str, dict[str, Any]]:
    with c.session() as s:
        a = stored(s, Amendment, aid)
        a.closes_at = utcnow() - timedelta(seconds=1)
        s.add(a)
        s.commit()
    close_due_now(c.ctx)
    with c.session() as s:
        a = stored(s, Amendment, aid)
        return a.state, json.loads(a.record)


def test_an_amendment_vote_keeps_its_secrecy(commune: Commune) -> None:
    c = commune
    _set(c, Statute(secret_ballot=True))
    pid, aid = _amendment_vote(c)
    _amendment_cast(c, pid, aid, CHOICES)
    _set(c, Statute(secret_ballot=False))
    state, record = _amendment_close(c, aid)
    assert state == "accepted" and record["ballots"] is None
    with c.session() as s:
        assert {(v.choice, v.reason) for v in s.exec(select(AmendmentVote))} == {("secret", "")}


@pytest.mark.parametrize("stricter", STRICTER, ids=["unanimity", "full-quorum"])
def test_an_amendment_vote_keeps_its_rule(commune: Commune, stricter: Statute) -> None:
    c = commune
    pid, aid = _amendment_vote(c)
    _amendment_cast(c, pid, aid, CHOICES)
    _set(c, stricter)
    state, _ = _amendment_close(c, aid)
    assert state == "accepted"
    # The final vote, opened after the change, is under the stricter statute.
    with c.session() as s:
        p = stored(s, Proposal, pid)
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p)
        s.commit()
    _cast(c, pid, CHOICES)
    outcome, _ = _close(c, pid)
    assert outcome != "adopted"


def test_a_row_without_a_frozen_statute_follows_the_body(commune: Commune) -> None:
    c = commune
    pid = _open_vote(c)
    _set(c, Statute(rule=Rule.consent))
    with c.session() as s:
        p, body = stored(s, Proposal, pid), bodies.body_by_handle(s, "maizal")
        assert statute_of_vote(p, body).rule == Rule.majority
        p.vote_statute = None  # as written before migration 0010, if it were not filled
        assert statute_of_vote(p, body).rule == Rule.consent


def test_upgrade_freezes_the_statute_of_votes_open_then(databases: Databases) -> None:
    from sqlalchemy import text

    from node.storage.db import make_null_engine
    from node.storage.migrate import upgrade

    engine = make_null_engine(databases.new("frozen", empty=True))
    upgrade(engine, "0009")
    statute = json.dumps(Statute(secret_ballot=True).to_dict())
    when = "'2026-01-01 00:00:00'"
    with engine.begin() as conn:
        conn.execute(text(
            "insert into local_actor (handle, name, summary, level, actor_type, is_primary, "
            "rsa_private_pem, rsa_public_pem, ed25519_private_pem, ed25519_public_multibase, "
            f"created_at, statute) values ('viejo', 'Viejo', '', 'commune', 'Group', true, "
            f"'a', 'b', 'c', 'd', {when}, :statute)"), {"statute": statute})
        conn.execute(text(
            "insert into member (username, display_name, password_hash, family, language, "
            f"created_at) values ('ana', 'Ana', 'x', '', 'es', {when})"))
        for state in ("vote", "deliberation", "decided"):
            conn.execute(text(
                "insert into proposal (body_id, state, affects, current_version, created_at, "
                f"updated_at) values (1, '{state}', '[]', 1, {when}, {when})"))
        for state in ("voting", "open"):
            conn.execute(text(
                "insert into amendment (proposal_id, author_id, against_version, title, text, "
                f"reason, state, created_at) values (2, 1, 1, 't', 'x', '', '{state}', "
                f"{when})"))
    upgrade(engine)
    with Session(engine) as s:
        frozen = {(p.state, p.vote_statute) for p in s.exec(select(Proposal))}
        assert frozen == {("vote", statute), ("deliberation", None), ("decided", None)}
        assert {(a.state, a.vote_statute) for a in s.exec(select(Amendment))} == {
            ("voting", statute), ("open", None)}
    engine.dispose()
