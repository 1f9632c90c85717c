"""Local rules that must hold when requests race or probe: a single-use invitation makes
one account however many accept it at once; a draft never leaves the node; login takes
the same work for unknown usernames, and one limiter counts web and API attempts."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, update
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from node.errors import Problem
from node.governance import bodies, members, passwords, proposals
from node.models import FederationLink, Invitation, Member, Membership, OutboxItem, Proposal
from node.models.base import utcnow
from tests.conftest import ctx_of, hold_to_openapi
from tests.helpers import refused, stored

PASSWORD = "contraseña-larga"
RACERS = 6


def race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run `fn(i)` in `n` threads released together; each result or raised exception."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        # Whatever a racer raised is its result: the test inspects what each one got.
        except Exception as exc:  # noqa: BLE001
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a racer is stuck"
    return results


def new_member(ctx: Any, username: str, role: str | None = "member") -> Member:
    with Session(ctx.engine, expire_on_commit=False) as s:
        m = members.create_member(ctx.tx(s), username, PASSWORD, username.title())
        if role:
            members.grant(ctx.tx(s), m, bodies.body_by_handle(s, ctx.primary.handle), role)
        s.commit()
    return m


def invitation(ctx: Any, role: str = "facilitator") -> str:
    with Session(ctx.engine) as s:
        raw = members.invite(ctx.tx(s), bodies.body_by_handle(s, ctx.primary.handle), role)
        s.commit()
    return raw


def count(ctx: Any, model: Any, *where: Any) -> int:
    with Session(ctx.engine) as s:
        return int(s.exec(select(func.count()).select_from(model).where(*where)).one())


# --- invitations ---------------------------------------------------------------------


def test_concurrent_accepts_of_one_invitation_make_one_account(client: TestClient) -> None:
    ctx = ctx_of(client)
    raw = invitation(ctx)

    def accept(i: int) -> int:
        with Session(ctx.engine) as s:
            m = members.accept_invitation(ctx.tx(s), raw, f"racer{i}", PASSWORD, f"Racer {i}")
            s.commit()
            return m.id or 0

    results = race(RACERS, accept)
    made = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, Problem)]
    assert len(made) == 1, results
    assert len(refused) == RACERS - 1, results
    assert {(p.status, p.code) for p in refused} == {(410, "invitation-used")}
    assert count(ctx, Member, col(Member.username).startswith("racer")) == 1
    assert count(ctx, Membership, Membership.role == "facilitator") == 1
    with Session(ctx.engine) as s:
        inv = s.exec(select(Invitation)).one()
        assert inv.used_by == made[0] and inv.used_at is not None


def test_concurrent_accepts_through_the_api_make_one_account(client: TestClient) -> None:
    checked = hold_to_openapi(client)
    ctx = ctx_of(client)
    raw = invitation(ctx)

    def accept(i: int) -> Any:
        r = client.post(f"/api/v1/invitations/{raw}/accept",
                        json={"username": f"api{i}", "password": PASSWORD,
                              "display_name": f"Api {i}"})
        return r.status_code, r.json().get("code")

    results = race(RACERS, accept)
    assert sorted(results, key=str) == sorted(
        [(201, None)] + [(410, "invitation-used")] * (RACERS - 1), key=str), results
    assert count(ctx, Member, col(Member.username).startswith("api")) == 1
    assert "POST /api/v1/invitations/{token}/accept 410" in checked


def test_a_spent_or_expired_invitation_makes_no_account(client: TestClient) -> None:
    checked = hold_to_openapi(client)
    ctx = ctx_of(client)
    raw = invitation(ctx)
    with Session(ctx.engine) as s:
        s.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
        s.commit()
    r = client.post(f"/api/v1/invitations/{raw}/accept",
                    json={"username": "late", "password": PASSWORD, "display_name": "Late"})
    assert (r.status_code, r.json()["code"]) == (410, "invitation-expired")
    raw = invitation(ctx)
    # A refused password does not spend the link; the right one then uses it once.
    r = client.post(f"/api/v1/invitations/{raw}/accept",
                    json={"username": "ok", "password": "short", "display_name": "Ok"})
    assert r.status_code == 422
    r = client.post(f"/api/v1/invitations/{raw}/accept",
                    json={"username": "ok", "password": PASSWORD, "display_name": "Ok"})
    assert r.status_code == 201
    r = client.post(f"/api/v1/invitations/{raw}/accept",
                    json={"username": "again", "password": PASSWORD, "display_name": "Again"})
    assert (r.status_code, r.json()["code"]) == (410, "invitation-used")
    assert count(ctx, Member, col(Member.username).in_(["late", "again"])) == 0
    assert "POST /api/v1/invitations/{token}/accept 410" in checked


def test_two_invitations_racing_for_one_username_make_one_account(client: TestClient) -> None:
    checked = hold_to_openapi(client)
    ctx = ctx_of(client)
    raws = [invitation(ctx, "member") for _ in range(2)]

    def accept(i: int) -> Any:
        r = client.post(f"/api/v1/invitations/{raws[i]}/accept",
                        json={"username": "gemela", "password": PASSWORD,
                              "display_name": "Gemela"})
        return r.status_code, r.json().get("code")

    results = race(2, accept)
    assert sorted(results, key=str) == sorted([(201, None), (409, "username-taken")],
                                              key=str), results
    assert count(ctx, Member, Member.username == "gemela") == 1
    # The loser's invitation is still unused: the refusal rolled its claim back.
    assert count(ctx, Invitation, col(Invitation.used_at).is_(None)) == 1
    assert "POST /api/v1/invitations/{token}/accept 409" in checked


# --- a draft stays here --------------------------------------------------------------


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


def web_login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post("/login", data={"csrf": csrf_of(page.text), "username": username,
                                       "password": password}, follow_redirects=False)


def api_token(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def with_federation(client: TestClient) -> str:
    """This node's commune belongs to a federation (a second body on the same node, so
    the route up is known without the network); returns that federation's URI."""
    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        primary = bodies.body_by_handle(s, ctx.primary.handle)
        fed = bodies.create_body(ctx.tx(s), primary, "ciudad_norte", "Ciudad Norte",
                                 "sectoral_council")
        s.add(FederationLink(body_id=primary.id or 0, remote_uri=ctx.urls.actor(fed.handle),
                             remote_inbox=ctx.urls.actor(fed.handle) + "/inbox",
                             direction="member_of", state="accepted"))
        s.commit()
    ctx.reload_actors()
    return str(ctx.urls.actor("ciudad_norte"))


def draft(ctx: Any, author: Member, federation: str) -> int:
    with Session(ctx.engine) as s:
        body = bodies.body_by_handle(s, ctx.primary.handle)
        p = proposals.create(ctx.tx(s, author), body, "Borrador privado", "texto que no sale",
                             affects=[federation], own_uri=ctx.urls.actor(body.handle))
        s.commit()
        return p.id or 0


def nothing_left_the_node(ctx: Any, pid: int) -> None:
    with Session(ctx.engine) as s:
        p = s.get(Proposal, pid)
        assert p is not None and p.state == "draft"
        assert p.escalation in ("", None) and not p.matter
        sent = s.exec(select(OutboxItem.body)).all()
    assert not [b for b in sent if "texto que no sale" in b]


def test_a_draft_is_not_sent_up_through_the_api(client: TestClient, with_federation: str) -> None:
    checked = hold_to_openapi(client)
    ctx = ctx_of(client)
    author = new_member(ctx, "autora")
    pid = draft(ctx, author, with_federation)
    headers = api_token(client, "autora")
    for payload in ({}, {"federation": with_federation}):
        r = client.post(f"/api/v1/proposals/{pid}/send-up", json=payload, headers=headers)
        assert (r.status_code, r.json()["code"]) == (409, "proposal-is-draft"), r.text
    nothing_left_the_node(ctx, pid)
    # Once deliberation opens, the same request sends it: the refusal was about the draft.
    with Session(ctx.engine) as s:
        proposals.open_deliberation(ctx.tx(s, author), proposals.get(s, pid))
        s.commit()
    r = client.post(f"/api/v1/proposals/{pid}/send-up", json={}, headers=headers)
    assert r.status_code == 200 and r.json()["sent_to"] == with_federation, r.text
    assert "POST /api/v1/proposals/{proposal_id}/send-up 409" in checked


def test_a_draft_is_not_sent_up_from_the_page(client: TestClient, with_federation: str) -> None:
    ctx = ctx_of(client)
    author = new_member(ctx, "autora")
    pid = draft(ctx, author, with_federation)
    assert web_login(client, "autora").status_code == 303
    page = client.get(f"/p/{pid}")
    r = client.post(f"/p/{pid}/send-up", data={"csrf": csrf_of(page.text)})
    # Refused with a notice on the proposal's page, in Spanish.
    assert refused(r, 409) and "deliberación" in r.text
    nothing_left_the_node(ctx, pid)
    # In deliberation, the page offers the form (with its token) and it sends the matter.
    with Session(ctx.engine) as s:
        proposals.open_deliberation(ctx.tx(s, author), proposals.get(s, pid))
        s.commit()
    page = client.get(f"/p/{pid}")
    assert f'action="/p/{pid}/send-up"' in page.text
    r = client.post(f"/p/{pid}/send-up", data={"csrf": csrf_of(page.text)},
                    follow_redirects=False)
    assert r.status_code == 303
    with Session(ctx.engine) as s:
        assert stored(s, Proposal, pid).escalated_to == with_federation


def test_an_outsider_learns_nothing_about_a_draft(client: TestClient, with_federation: str) -> None:
    ctx = ctx_of(client)
    pid = draft(ctx, new_member(ctx, "autora"), with_federation)
    new_member(ctx, "vecina")  # a member, but neither the author nor a facilitator
    r = client.post(f"/api/v1/proposals/{pid}/send-up", json={},
                    headers=api_token(client, "vecina"))
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    nothing_left_the_node(ctx, pid)


# --- login ---------------------------------------------------------------------------


class VerifySpy:
    """The password hasher, counting the argon2 verifications a login runs."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0

    def verify(self, *args: Any) -> Any:
        self.calls += 1
        return self.real.verify(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_an_unknown_username_costs_a_password_check(client: TestClient,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = ctx_of(client)
    new_member(ctx, "conocida")
    spy = VerifySpy(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", spy)
    for who in ("conocida", "desconocida"):
        spy.calls = 0
        r = client.post("/api/v1/tokens", json={"username": who, "password": "no-es-esta-1"})
        assert (r.status_code, r.json()["code"]) == (401, "bad-credentials")
        assert spy.calls == 1, who
        spy.calls = 0
        assert web_login(client, who, "no-es-esta-1").status_code == 401
        assert spy.calls == 1, who


def test_web_and_api_logins_share_one_limiter(client: TestClient) -> None:
    checked = hold_to_openapi(client)
    ctx = ctx_of(client)
    new_member(ctx, "ana")
    for _ in range(3):
        assert web_login(client, "ana", "no-es-esta-1").status_code == 401
    for _ in range(2):
        r = client.post("/api/v1/tokens", json={"username": "ana", "password": "no-es-esta-1"})
        assert r.status_code == 401
    # Five failures in all: the right password is refused through either door.
    r = client.post("/api/v1/tokens", json={"username": "ana", "password": PASSWORD})
    assert (r.status_code, r.json()["code"]) == (429, "too-many-attempts")
    assert web_login(client, "ana").status_code == 429
    assert "POST /api/v1/tokens 429" in checked


def test_concurrent_guesses_do_not_overrun_the_limiter(client: TestClient) -> None:
    ctx = ctx_of(client)
    new_member(ctx, "bea")
    limiter = members.LoginLimiter(attempts=5)

    def guess(i: int) -> int:
        with Session(ctx.engine) as s:
            members.authenticate(s, limiter, "bea", f"guess-{i}-xxxxx")
        return 200

    results = race(12, guess)
    statuses = sorted(r.status for r in results if isinstance(r, Problem))
    assert statuses == [401] * 5 + [429] * 7, results
