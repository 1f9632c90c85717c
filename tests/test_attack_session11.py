"""Who may act for whom, broken by a reviewer acting as members of one node's bodies:
each test below failed before its fix (the eleventh session)."""

from __future__ import annotations

from sqlmodel import select
from starlette.testclient import TestClient

from node.config import Settings
from node.economy import enterprises
from node.governance import accounts, members, proposals
from node.models import Enterprise, Invitation, LocalActor, Member, Membership
from node.models.members import PasswordReset
from tests.govfixtures import Commune, build_commune
from tests.helpers import stored
from tests.pageattack import bearer, council_coordinator, post
from tests.pageforms import login


def _second_facilitator(c: Commune) -> Member:
    second = c.people["m3"]
    with c.session() as s:
        members.grant(c.ctx.tx(s), stored(s, Member, second.id), c.assembly, "facilitator")
        s.commit()
    return second


def _accept(client: TestClient, raw: str, username: str) -> int:
    status: int = client.post(f"/api/v1/invitations/{raw}/accept", json={
        "username": username, "password": "contraseña-larga"}).status_code
    return status


def test_a_removed_coordinator_cannot_come_back_through_an_invitation(
        node: Settings, client: TestClient) -> None:
    """A coordinator made a facilitator's invitation, was taken out of the body, and
    accepted it under a new name: the body's coordination was theirs again."""
    c = build_commune(node)
    second = _second_facilitator(c)
    h = bearer(client, second.username)
    raw = client.post(f"/api/v1/bodies/{c.assembly.handle}/invitations", headers=h,
                      json={"role": "facilitator", "valid_days": 30}).json()["token"]
    facil = bearer(client, "facil")
    assert client.delete(f"/api/v1/bodies/{c.assembly.handle}/members/{second.id}",
                         headers=facil).status_code == 204
    assert _accept(client, raw, "titere") == 410
    with c.session() as s:
        inv = s.exec(select(Invitation).where(Invitation.invited_by == second.id)).one()
        assert inv.revoked_at is not None and inv.used_at is None
        assert s.exec(select(Member).where(Member.username == "titere")).first() is None


def test_an_invitation_dies_when_its_maker_stops_coordinating(node: Settings,
                                                              client: TestClient) -> None:
    """The same through the loss of the role alone (the member stays), and through a
    coordination lost some other way than these two (checked again at the accept)."""
    c = build_commune(node)
    second = _second_facilitator(c)
    with c.session() as s:
        tx = c.ctx.tx(s, stored(s, Member, second.id))
        first = members.invite(tx, c.assembly, "member")
        s.commit()
    with c.session() as s:
        members.change_role(c.ctx.tx(s, stored(s, Member, c.people["facil"].id)), c.assembly,
                            stored(s, Member, second.id), "revoke_facilitator")
        s.commit()
    assert _accept(client, first, "vecina") == 410
    # Granted again, a new invitation; then the role row goes without members.revoke.
    with c.session() as s:
        members.grant(c.ctx.tx(s), stored(s, Member, second.id), c.assembly, "facilitator")
        again = members.invite(c.ctx.tx(s, stored(s, Member, second.id)), c.assembly, "member")
        s.commit()
    with c.session() as s:
        for row in s.exec(select(Membership).where(
                Membership.member_id == second.id,
                Membership.role == "facilitator")).all():
            s.delete(row)
        s.commit()
    assert _accept(client, again, "vecino") == 410
    # An invitation of a coordinator still in place works.
    with c.session() as s:
        ok = members.invite(c.ctx.tx(s, stored(s, Member, c.people["facil"].id)), c.assembly,
                            "member")
        s.commit()
    assert _accept(client, ok, "vecine") == 201


def test_a_member_taken_out_keeps_no_say_in_an_enterprise_council(node: Settings,
                                                                  client: TestClient) -> None:
    c = build_commune(node)
    gasera, worker = c.people["m1"], c.people["m2"]
    with c.session() as s:
        tx = c.ctx.tx(s, stored(s, Member, c.people["facil"].id))
        gas = enterprises.create(tx, stored(s, LocalActor, c.assembly.id), "gas", "Gas comunal")
        for m in (gasera, worker):
            enterprises.add_worker(tx, stored(s, LocalActor, c.assembly.id), gas,
                                   stored(s, Member, m.id), council=True)
        members.remove_member(tx, stored(s, LocalActor, c.assembly.id),
                              stored(s, Member, gasera.id), "se fue")
        s.commit()
    h = bearer(client, gasera.username)
    r = client.post(f"/api/v1/bodies/{c.assembly.handle}/enterprises/gas/workers", headers=h,
                    json={"username": worker.username, "council": False})
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    with c.session() as s:
        assert (stored(s, Member, worker.id).username, True) in [
            (m.username, council) for m, council in enterprises.workers(
                s, s.exec(select(Enterprise)).one())]


def test_a_councils_coordinator_cannot_reset_a_member_the_commune_shares(
        node: Settings, client: TestClient) -> None:
    """A plain member of both the commune and a council: the council's coordinator made
    a reset link, logged in with it and voted in the commune as them."""
    c = build_commune(node)
    cc = council_coordinator(c)
    pedro = c.people["m0"]
    with c.session() as s:
        members.grant(c.ctx.tx(s), stored(s, Member, pedro.id), c.council, "member")
        s.commit()
    login(client, cc.username)
    r = post(client, f"/b/{c.council.handle}/admin/members/{pedro.id}/reset")
    assert "/reset/" not in r.text
    h = bearer(client, cc.username)
    r = client.post(f"/api/v1/bodies/{c.council.handle}/members/{pedro.id}/reset", headers=h)
    assert r.status_code in (403, 409), r.text
    with c.session() as s:
        assert s.exec(select(PasswordReset)).all() == []
        # The commune's coordinators run the node: they still may (a council's member
        # would otherwise have nobody to turn to).
        raw = accounts.make_reset(c.ctx.tx(s, stored(s, Member, c.people["facil"].id)),
                                  stored(s, LocalActor, c.assembly.id), stored(s, Member, pedro.id))
        s.commit()
    assert raw


def test_a_withdrawn_proposal_is_not_sent_up(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    author = c.people["m0"]
    with c.session() as s:
        p = proposals.create(c.ctx.tx(s, stored(s, Member, author.id)), c.assembly, "Retirada",
                             "texto")
        proposals.withdraw(c.ctx.tx(s, stored(s, Member, author.id)), p)
        s.commit()
    r = client.post(f"/api/v1/proposals/{p.id}/send-up", headers=bearer(client, "facil"),
                    json={})
    assert r.status_code == 409 and r.json()["code"] == "proposal-withdrawn", r.text


def test_a_private_bodys_proposal_looks_missing_to_send_up_and_mandate(
        node: Settings, client: TestClient) -> None:
    """These two answered an outsider 403 'only members of <handle> may do this'."""
    c = build_commune(node)
    pid = c.private_proposal()
    h = bearer(client, "outsider")
    for path, body in (("send-up", {}), ("mandate", {"position": "free",
                                                     "spokespersons": [1]})):
        r = client.post(f"/api/v1/proposals/{pid}/{path}", headers=h, json=body)
        assert r.status_code == 404 and "reservado" not in r.text, (path, r.status_code, r.text)


def test_an_amendment_is_kept_only_from_the_federation_the_matter_answers_to(
        node: Settings, client: TestClient) -> None:
    """Another federation of the body (or one naming a matter the body does not hold
    from it) cannot plant amendments that the body's mandate form would then offer."""
    from node.federations import amendment_news
    from node.models import Proposal
    from node.models.matters import FederatedAmendment

    c = build_commune(node)
    city, other = "https://ciudad.example/actors/ciudad", "https://otra.example/actors/otra"
    matter = "https://cumbe.example/objects/m1"
    doc = {"id": "https://ciudad.example/amendments/1", "type": "Amendment",
           "attributedTo": city, "matter": matter, "name": "Con tanque",
           "content": "Otro texto", "againstVersion": 1, "amendmentState": "open"}
    with c.session() as s:
        s.add(Proposal(body_id=c.assembly.id or 0, matter=matter, answers_to=city,
                       electorate="people", state="deliberation"))
        s.commit()
    with c.session() as s:
        tx = c.ctx.tx(s)
        body = stored(s, LocalActor, c.assembly.id)
        forged = {**doc, "id": "https://otra.example/amendments/9", "attributedTo": other}
        assert not amendment_news.receive(tx, body, other, forged)
        assert not amendment_news.receive(tx, body, city, {**doc, "matter": matter + "x"})
        assert not amendment_news.receive(tx, body, city, {**doc, "amendmentState": "lo-que-sea"})
        assert amendment_news.receive(tx, body, city, doc)
        s.commit()
        rows = s.exec(select(FederatedAmendment)).all()
        assert [(r.uri, r.federation, r.state) for r in rows] == [(doc["id"], city, "open")]


def test_a_federation_cannot_rewrite_anothers_amendment_nor_flood_them(
        node: Settings, client: TestClient) -> None:
    """Two federations on one host: the second sent an Update of the first's amendment
    (same id) on its own matter and the row took its text and state. And any number of
    amendments were kept and offered."""
    from node.federations import amendment_news
    from node.models import Proposal
    from node.models.matters import FederatedAmendment

    c = build_commune(node)
    city, land = "https://fed.example/actors/ciudad", "https://fed.example/actors/territorio"
    m1, m2 = "https://cumbe.example/objects/m1", "https://cumbe.example/objects/m2"
    with c.session() as s:
        for matter, fed in ((m1, city), (m2, land)):
            s.add(Proposal(body_id=c.assembly.id or 0, matter=matter, answers_to=fed,
                           electorate="people", state="deliberation"))
        s.commit()
    doc = {"id": "https://fed.example/amendments/1", "type": "Amendment", "matter": m1,
           "name": "De la ciudad", "content": "Texto", "againstVersion": 1,
           "amendmentState": "open"}
    with c.session() as s:
        tx, body = c.ctx.tx(s), stored(s, LocalActor, c.assembly.id)
        assert amendment_news.receive(tx, body, city, doc)
        assert not amendment_news.receive(tx, body, land, {
            **doc, "matter": m2, "name": "FALSO", "amendmentState": "accepted"})
        assert not amendment_news.receive(tx, body, land, {**doc, "name": "FALSO"})
        assert amendment_news.receive(tx, body, city, {**doc, "amendmentState": "voting"})
        for k in range(2, amendment_news.MAX_PER_MATTER + 5):
            amendment_news.receive(tx, body, city, {
                **doc, "id": f"https://fed.example/amendments/{k}", "name": f"n{k}"})
        s.commit()
        rows = s.exec(select(FederatedAmendment)).all()
        assert len(rows) == amendment_news.MAX_PER_MATTER
        first = next(r for r in rows if r.uri == doc["id"])
        assert (first.title, first.state, first.matter) == ("De la ciudad", "voting", m1)
