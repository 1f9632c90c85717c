"""Holes found attacking the pages (issue 12): each test fails until its fix is in."""

from __future__ import annotations

from collections.abc import Iterator

from sqlmodel import select
from starlette.testclient import TestClient

from node.config import Settings
from node.governance import accounts, members
from node.models import LocalActor, Member, WebNotice
from node.models.members import PasswordReset
from tests.govfixtures import Commune, build_commune
from tests.helpers import refused, stored
from tests.pageattack import NEW, bearer, council_coordinator, post, use
from tests.pageforms import PASSWORD, csrf, login


def _reset_by(c: Commune, maker: Member, body: LocalActor, target: Member) -> str:
    with c.session() as s:
        raw = accounts.make_reset(c.ctx.tx(s, stored(s, Member, maker.id)), body,
                                  stored(s, Member, target.id))
        s.commit()
        return raw


def test_a_form_sent_in_chunks_is_capped_like_one_with_a_length(node: Settings,
                                                                client: TestClient) -> None:
    """form() trusts Content-Length; a chunked body has none and was read whole (a
    stranger, before any CSRF check, can make a process hold any amount of memory)."""
    build_commune(node)
    page = client.get("/login")
    size = 600 * 1024

    def chunks() -> Iterator[bytes]:
        yield f"csrf={csrf(page.text)}&username=".encode()
        for _ in range(size // 4096):
            yield b"a" * 4096

    r = client.post("/login", content=chunks(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413


def test_a_notice_keeps_little_whatever_the_field_names(node: Settings, client: TestClient) -> None:
    """MAX_KEPT counts values only: a stranger posting a refused join form with huge
    field names (or thousands of fields) stores ~512 KB per request for ten minutes."""
    c = build_commune(node)
    post(client, "/join/no-existe", {"k" * 300_000: "", **{f"f{i}": "" for i in range(2000)}},
         follow_redirects=False)
    with c.session() as s:
        rows = s.exec(select(WebNotice)).all()
    assert rows and max(len(n.payload) for n in rows) < 70 * 1024


def test_a_reset_link_dies_with_its_makers_coordination(node: Settings, client: TestClient) -> None:
    """A coordinator removed from the coordination (for abusing it) kept, for 24 hours,
    working links into the accounts of the members they could reset."""
    c = build_commune(node)
    second = c.people["m3"]
    with c.session() as s:
        members.grant(c.ctx.tx(s), stored(s, Member, second.id), c.assembly, "facilitator")
        s.commit()
    raw = _reset_by(c, second, c.assembly, c.people["m0"])
    with c.session() as s:
        members.revoke(c.ctx.tx(s), stored(s, Member, second.id), c.assembly, "facilitator")
        s.commit()
    assert use(client, raw).status_code == 410
    client.cookies.clear()
    page = client.get("/login")
    r = client.post("/login", data={"csrf": csrf(page.text), "username": "m0",
                                    "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303


def test_a_reset_link_is_checked_again_when_used(node: Settings, client: TestClient) -> None:
    """The subset rule (no reset of someone coordinating a body one does not coordinate)
    was checked only when the link was made: a council's coordinator makes a link for a
    plain member, the member is then named the commune's coordinator, and the link
    still opens the commune's coordinator account."""
    c = build_commune(node)
    cc = council_coordinator(c)
    target = c.people["other"]  # a plain member of the council
    raw = _reset_by(c, cc, c.council, target)
    with c.session() as s:
        members.grant(c.ctx.tx(s), stored(s, Member, target.id), c.assembly, "facilitator")
        s.commit()
    assert use(client, raw).status_code == 410
    with c.session() as s:
        assert s.exec(select(PasswordReset.used_at)).one() is None


def test_a_reset_link_dies_when_its_member_leaves_the_body(node: Settings,
                                                           client: TestClient) -> None:
    c = build_commune(node)
    raw = _reset_by(c, c.people["facil"], c.assembly, c.people["m0"])
    with c.session() as s:
        members.remove_member(c.ctx.tx(s, stored(s, Member, c.people["facil"].id)), c.assembly,
                              stored(s, Member, c.people["m0"].id), "se fue")
        s.commit()
    assert use(client, raw).status_code == 410


def test_a_councils_coordinator_cannot_take_the_communes_spokesperson(node: Settings,
                                                                      client: TestClient) -> None:
    """The subset rule covers coordination only: a council's coordinator could make a
    reset link for someone who is the commune's spokesperson (who casts the commune's
    mandated votes in its federations), or a member of a private body, and log in as
    them."""
    c = build_commune(node)
    cc = council_coordinator(c)
    voice = c.people["m1"]
    with c.session() as s:
        members.grant(c.ctx.tx(s), stored(s, Member, voice.id), c.assembly, "spokesperson")
        members.grant(c.ctx.tx(s), stored(s, Member, voice.id), c.council, "member")
        s.commit()
    login(client, cc.username)
    r = post(client, f"/b/consejo_salud/admin/members/{voice.id}/reset")
    assert "/reset/" not in r.text
    with c.session() as s:
        assert s.exec(select(PasswordReset)).all() == []
    assert NEW


def test_a_private_bodys_proposal_looks_missing_to_every_route(node: Settings,
                                                               client: TestClient) -> None:
    """Reading a private body's proposal answers 404, as for a missing one; but the
    ballot routes (API and page) take the proposal without the read check, so an
    outsider counting ids learns which exist and the private body's handle (the 403
    says 'only members of <handle> may do this')."""
    c = build_commune(node)
    pid = c.private_proposal()
    h = bearer(client, "outsider")
    assert client.get(f"/api/v1/proposals/{pid}", headers=h).status_code == 404
    for url in (f"/api/v1/proposals/{pid}/ballot", f"/api/v1/proposals/{pid}/amendments/1/ballot"):
        r = client.put(url, json={"choice": "yes", "version": 1, "reason": ""}, headers=h)
        assert r.status_code == 404 and "reservado" not in r.text, (url, r.status_code, r.text)
    login(client, "outsider")
    r = post(client, f"/p/{pid}/ballot", {"choice": "yes", "version": "1"})
    assert refused(r, 404) and "reservado" not in r.text


def test_the_json_api_reads_no_more_than_it_could_use(node: Settings, client: TestClient) -> None:
    """JsonDepthMiddleware buffers a whole /api/ body before FastAPI sees it, with no cap
    (and FastAPI buffers non-JSON bodies itself): one anonymous request may make the
    process hold any amount of memory. The largest field the API takes is 200 000
    characters."""
    build_commune(node)
    huge = b'{"username": "' + b"a" * (6 * 1024 * 1024) + b'", "password": "x"}'

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(huge), 65536):
            yield huge[i:i + 65536]

    for content_type in ("application/json", "text/plain"):
        r = client.post("/api/v1/tokens", content=chunks(),
                        headers={"Content-Type": content_type})
        assert r.status_code == 413, (content_type, r.status_code)
        r = client.post("/api/v1/tokens", content=huge, headers={"Content-Type": content_type})
        assert r.status_code == 413, (content_type, r.status_code)


def test_a_statute_quorum_of_infinity_is_refused_not_a_crash(node: Settings,
                                                             client: TestClient) -> None:
    """Decimal('Infinity') passes the parse; Fraction() then raises OverflowError, which
    statute_from_form does not catch: a 500 (for a coordinator; the preview too)."""
    build_commune(node)
    login(client, "facil")
    for url in ("/b/maizal/admin/statute/preview", "/b/maizal/admin/statute"):
        r = post(client, url, {"rule": "majority", "quorum": "Infinity", "voting_days": "7"})
        assert r.status_code in (200, 422) or refused(r, 422), (url, r.status_code)
        assert r.status_code != 500
