"""A mandate's actions: for each state and each person, what available_actions offers
succeeds and what it does not offer is refused by the domain (one rule for pages, API
and mutators); and a federation's refusal of a vote moves the mandate to `refused` with
its code and words."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlmodel import Session, select

from node.errors import Problem
from node.federations import mandates
from node.federations.mandate_states import MANDATE, MandateState, available_actions
from node.federations.names import names, spokesperson_names
from node.models import InboxItem, Member
from node.models.matters import Mandate, MandatedVote, SignedObject
from node.models.outbox import OutboxItem
from tests.federated_commune import PEOPLE, Commune
from tests.helpers import stored
from tests.pageforms import csrf, login


def _try(c: Commune, state: str, username: str, action: str) -> bool:
    """Whether `action` succeeds for `username` on the mandate in `state` (rolled back)."""
    with Session(c.ctx.engine) as s:
        m = stored(s, Mandate, c.mandate_id)
        m.state = state
        s.add(m)
        s.flush()
        me = stored(s, Member, c.ids[username])
        try:
            if action == "recall":
                mandates.recall(c.ctx.tx(s, me), c.mandate_id)
            else:
                mandates.cast(c.ctx.tx(s, me), c.mandate_id, action.removeprefix("vote_"))
            return True
        except Problem:
            return False
        finally:
            s.rollback()


def _offered(c: Commune, state: str, username: str, now: datetime | None = None,
             expires_at: datetime | None = None) -> list[str]:
    with Session(c.ctx.engine) as s:
        m = stored(s, Mandate, c.mandate_id)
        m.state = state
        if expires_at is not None:
            m.expires_at = expires_at
        offered = available_actions(s, c.ctx.urls, stored(s, Member, c.ids[username]), m,
                                    now or c.ctx.clock.now())
        s.rollback()
        return offered


def test_a_mandate_expires_by_the_clock_it_is_read_with(mandated: Commune) -> None:
    """Expiry is read against the `now` it is given (the node's clock), not the wall."""
    c = mandated
    now = c.ctx.clock.now()
    speaker = next(u for u in PEOPLE if any(
        a.startswith("vote_") for a in _offered(c, "live", u)))
    until = now + timedelta(hours=1)
    assert any(a.startswith("vote_") for a in _offered(c, "live", speaker, now, until))
    later = _offered(c, "live", speaker, now + timedelta(hours=2), until)
    assert not any(a.startswith("vote_") for a in later), later


def test_every_state_and_person_gets_exactly_what_is_offered(mandated: Commune) -> None:
    c = mandated
    every = ["vote_for", "vote_against", "vote_abstain", "recall"]
    seen: dict[tuple[str, str], list[str]] = {}
    for state in MandateState:
        for username in PEOPLE:
            offered = _offered(c, state, username)
            seen[(state, username)] = offered
            for action in every:
                assert _try(c, state, username, action) == (action in offered), \
                    (state, username, action, offered)
    # An "approve" mandate: its spokespersons may only vote for it, never against.
    assert seen[("live", "ana")] == ["vote_for"]
    assert seen[("live", "facil")] == ["vote_for", "recall"]
    assert seen[("refused", "ana")] == ["vote_for"]  # may send it again
    assert seen[("live", "luis")] == [] and seen[("recalled", "facil")] == []
    assert seen[("superseded", "ana")] == [] and seen[("lapsed", "facil")] == []


def test_the_federations_reject_of_a_vote_shows_on_the_mandate(mandated: Commune) -> None:
    c = mandated
    with Session(c.ctx.engine) as s:
        ana = stored(s, Member, c.ids["ana"])
        vote_uri = mandates.cast(c.ctx.tx(s, ana), c.mandate_id, "for")
        s.commit()
        create = s.exec(select(OutboxItem).where(OutboxItem.object_id == vote_uri)).one()
        # The Reject as the inbox stored it (its code is read from there).
        s.add(InboxItem(activity_id=f"{c.f.server.base}/activities/reject-1",
                        activity_type="Reject", actor=c.f.uri, recipient="maizal",
                        body=json.dumps({"id": f"{c.f.server.base}/activities/reject-1",
                                         "type": "Reject", "actor": c.f.uri,
                                         "object": create.activity_id,
                                         "summary": "vote-closed",
                                         "content": "this matter is not open for voting"})))
        s.commit()
        # Only the federation the vote went to may refuse it.
        assert not mandates.receive_refusal(c.ctx.tx(s), c.g.uri, create.activity_id, "no")
        assert mandates.receive_refusal(c.ctx.tx(s), c.f.uri, create.activity_id,
                                        "this matter is not open for voting")
        s.commit()
        m = stored(s, Mandate, c.mandate_id)
        assert (m.state, m.refusal_code, m.refusal) == (
            "refused", "vote-closed", "this matter is not open for voting")
        assert s.exec(select(MandatedVote).where(MandatedVote.uri == vote_uri)).one().state \
            == "refused"
    r = c.client.get(f"/api/v1/proposals/{c.rows()[0].id}/mandates")
    [got] = r.json()["items"]
    assert got["refusal"]["code"] == "vote-closed" and got["state"] == "refused"
    page = c.client.get(f"/p/{c.rows()[0].id}").text
    assert "La federación rechazó el voto" in page and "todavía no la abría" in page
    # Sending the vote again makes the mandate live, and the refusal is gone.
    with Session(c.ctx.engine) as s:
        mandates.cast(c.ctx.tx(s, stored(s, Member, c.ids["ana"])), c.mandate_id, "for")
        s.commit()
        m = stored(s, Mandate, c.mandate_id)
        assert (m.state, m.refusal) == ("live", "")


def test_the_graph_describes_the_mandates_life() -> None:
    rows = {a: (src, dst) for a, src, dst in MANDATE.describe()}
    assert rows["refuse"] == (["live", "refused"], "refused")
    assert rows["vote"] == (["live", "refused"], "live")
    assert rows["lapse"] == (["live"], "lapsed")


def test_a_mandate_names_its_spokespersons_for_its_own_host_only(mandated: Commune) -> None:
    c = mandated
    with Session(c.ctx.engine) as s:
        m = stored(s, Mandate, c.mandate_id)
        doc = json.loads(s.exec(select(SignedObject.body).where(SignedObject.uri == m.uri)
                                ).one())
        assert sorted(doc["spokespersonNames"].values()) == ["Ana", "Facil"]
        s.add(SignedObject(uri="https://a.example/objects/m1", type="Mandate",
                           author="https://a.example/actors/c", body=json.dumps({
                               "spokespersonNames": {
                                   "https://a.example/members/ana": "Ana Gómez",
                                   "https://b.example/members/x": "Nombre ajeno"}})))
        s.commit()
        hints = spokesperson_names(s, ["https://a.example/objects/m1"])
        assert hints == {"https://a.example/members/ana": "Ana Gómez"}
        assert names(s, c.ctx.urls, ["https://a.example/members/ana",
                                     "https://b.example/members/x", c.f.uri], hints) == {
            "https://a.example/members/ana": "Ana Gómez",
            "https://b.example/members/x": "x@b.example",
            c.f.uri: names(s, c.ctx.urls, [c.f.uri])[c.f.uri]}


def test_a_spokesperson_whose_role_was_taken_away_votes_no_more(mandated: Commune) -> None:
    """Named on the live mandate, but the body took the role back: that takes effect at
    once, on the page and in what the node signs."""
    from node.governance import members
    from node.models import LocalActor

    c = mandated
    assert "vote_for" in _offered(c, "live", "ana")
    with Session(c.ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        members.revoke(c.ctx.tx(s, stored(s, Member, c.ids["facil"])),
                       stored(s, Member, c.ids["ana"]), body, "spokesperson")
        s.commit()
    assert _offered(c, "live", "ana") == []
    assert not _try(c, "live", "ana", "vote_for")
    assert _try(c, "live", "facil", "vote_for")  # the other spokesperson still may


def test_once_the_federation_decided_no_mandate_is_given_and_no_vote_sent(
        mandated: Commune) -> None:
    from node.models import Proposal

    c = mandated
    [row] = c.rows()
    with Session(c.ctx.engine) as s:
        p = stored(s, Proposal, row.id)
        p.final_outcome = "adopted"
        s.add(p)
        s.commit()
    assert [a for a in _offered(c, "live", "ana") if a.startswith("vote_")] == []
    assert not _try(c, "live", "ana", "vote_for")
    with Session(c.ctx.engine) as s:
        try:
            mandates.issue(c.ctx.tx(s, stored(s, Member, c.ids["facil"])),
                           stored(s, Proposal, row.id), "approve", [c.ids["ana"]])
        except Problem as exc:
            assert exc.code == "matter-decided"
        else:
            raise AssertionError("a mandate was given on a decided matter")
        finally:
            s.rollback()
    # Nor is the form offered on the page.
    login(c.client, "facil")
    assert 'name="position"' not in c.client.get(f"/p/{row.id}").text


def test_the_page_says_what_voting_under_a_mandate_did(mandated: Commune) -> None:
    c = mandated
    [row] = c.rows()
    login(c.client, "facil")
    page = c.client.get(f"/p/{row.id}").text
    assert f'id="mv{c.mandate_id}-for"' not in page  # the federation's vote is not open
    c.vote_opened()
    page = c.client.get(f"/p/{row.id}").text
    assert f'id="mv{c.mandate_id}-for"' in page and 'class="choice"' in page
    r = c.client.post(f"/p/{row.id}/mandates/{c.mandate_id}/vote",
                      data={"csrf": csrf(page), "choice": "for"})
    assert "Voto enviado a la federación; aquí se verá cuando lo cuente." in r.text
