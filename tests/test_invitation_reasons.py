"""An invitation that no longer lets anyone in says why, to the coordination's list and
to the person holding the link, with a way forward; and withdrawing a coordinator's
waiting invitations is told in the notice of the change that did it."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select
from starlette.testclient import TestClient

from node.config import Settings
from node.governance import members
from node.models import Invitation, Member
from tests.govfixtures import Commune, build_commune
from tests.helpers import stored
from tests.pageforms import PASSWORD, login, post


def _coordinator_with_invitations(c: Commune, n: int) -> tuple[Member, list[str]]:
    second = c.people["m3"]
    with c.session() as s:
        members.grant(c.ctx.tx(s), stored(s, Member, second.id), c.assembly, "facilitator")
        s.commit()
    raws = []
    with c.session() as s:
        for _ in range(n):
            raws.append(members.invite(c.ctx.tx(s, stored(s, Member, second.id)), c.assembly))
        s.commit()
    return second, raws


def test_withdrawn_with_its_maker_says_so_in_the_list_and_at_the_link(
        node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    second, (raw,) = _coordinator_with_invitations(c, 1)
    login(client, "facil")
    r = post(client, f"/b/maizal/admin/members/{second.id}/role",
             {"action": "revoke_facilitator"})
    assert ("Se cambió el rol de Miembro 3 y se retiró 1 invitación pendiente que había "
            "creado.") in r.text, r.text
    with c.session() as s:
        inv = s.exec(select(Invitation)).one()
        assert inv.revoked_reason == members.MAKER_LEFT
    listed = client.get("/b/maizal/invitations").text
    assert "retirada: quien la creó dejó la coordinación" in listed
    client.cookies.clear()
    page = client.get(f"/join/{raw}")
    assert page.status_code == 410
    assert "quien la creó dejó la coordinación" in page.text
    assert "Pida un enlace nuevo a la coordinación de Comuna El Maizal." in page.text
    client.cookies.set("lang", "en")
    page = client.get(f"/join/{raw}").text
    assert "whoever made it left the coordination" in page
    assert "Ask the coordination of Comuna El Maizal for a new link." in page


def test_several_withdrawn_by_a_removal_are_counted(node: Settings,
                                                    client: TestClient) -> None:
    c = build_commune(node)
    second, _raws = _coordinator_with_invitations(c, 2)
    login(client, "facil")
    r = post(client, f"/b/maizal/admin/members/{second.id}/remove", {})
    assert ("Miembro 3 ya no integra Comuna El Maizal y se retiraron 2 invitaciones "
            "pendientes que había creado.") in r.text
    # A change that withdraws nothing says only what it did.
    r = post(client, f"/b/maizal/admin/members/{c.people['m0'].id}/role",
             {"action": "grant_spokesperson"})
    assert "Se cambió el rol de Miembro 0." in r.text


def test_each_dead_link_says_its_own_reason(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    with c.session() as s:
        facil = stored(s, Member, c.people["facil"].id)
        used, revoked, expired = (members.invite(c.ctx.tx(s, facil), c.assembly, valid_days=d)
                                  for d in (7, 7, 1))
        s.commit()
        members.accept_invitation(c.ctx.tx(s), used, "nueva", PASSWORD, "Nueva")
        inv = members.invitation_by_token(s, revoked)
        assert inv is not None
        members.revoke_invitation(c.ctx.tx(s, facil), c.assembly, inv.id or 0)
        late = members.invitation_by_token(s, expired)
        assert late is not None
        late.expires_at = late.created_at - timedelta(days=1)
        s.add(late)
        s.commit()
    said = {name: client.get(f"/join/{raw}").text for name, raw in
            (("used", used), ("revoked", revoked), ("expired", expired),
             ("unknown", "x" * 32))}
    assert "ya fue usada" in said["used"]
    assert "revocada por la coordinación" in said["revoked"]
    assert "venció" in said["expired"]
    assert "no existe" in said["unknown"] and "a quien le invitó" in said["unknown"]
    for name in ("used", "revoked", "expired"):
        assert "Pida un enlace nuevo a la coordinación de Comuna El Maizal." in said[name]
