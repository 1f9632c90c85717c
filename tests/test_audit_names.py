"""Every audit entry names who acted in one of four forms (member:<id>, body:<handle>,
remote:<uri>, node), whatever the domain function was handed, and nothing else gets
into the hash-chained log."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from node.config import Settings
from node.governance import proposals
from node.models import AuditEntry, LocalActor, Member
from node.storage import audit
from tests.govfixtures import build_commune

FORMS = r"^(node|member:\d+|body:[\w.-]+|remote:https?://[^\x00-\x1f\x7f]+)$"


def test_each_kind_of_actor_has_one_name() -> None:
    assert audit.actor_name(None) == "node"
    assert audit.actor_name(Member(id=7, username="ana", display_name="Ana",
                                   password_hash="x")) == "member:7"
    body = LocalActor(handle="maizal", name="El Maizal", level="commune", rsa_private_pem="",
                      rsa_public_pem="", ed25519_private_pem="", ed25519_public_multibase="")
    assert audit.actor_name(body) == "body:maizal"
    assert audit.actor_name("remote:https://ciudad.example/actors/sur") == \
        "remote:https://ciudad.example/actors/sur"
    assert audit.actor_name("member:12") == "member:12"


@pytest.mark.parametrize("loose", ["ana", "", "federation:ciudad", "node:maizal",
                                   "member:ana", "remote:ciudad"])
def test_any_other_name_is_refused_before_it_reaches_the_chain(loose: str) -> None:
    with pytest.raises(ValueError, match="member:<id>"):
        audit.actor_name(loose)


def test_what_a_commune_records_uses_only_those_names(node: Settings) -> None:
    c = build_commune(node)
    with c.session() as s:
        facil = c.people["facil"]
        p = proposals.create(c.ctx.tx(s, facil), c.assembly, "Huerto", "Un huerto comunal.")
        proposals.open_deliberation(c.ctx.tx(s, facil), p)
        s.commit()
        entries = s.exec(select(AuditEntry)).all()
        assert entries
        for entry in entries:
            assert re.match(FORMS, entry.actor), entry
        assert any(e.actor == f"member:{facil.id}" and e.action == "proposal.created"
                   for e in entries)
        assert audit.verify_chain(s) == (True, None)


def test_a_peer_with_a_long_or_odd_actor_uri_is_audited_not_refused(node: Settings) -> None:
    """The URI is the peer's to choose: a long one (PostgreSQL's column was 200 wide and
    refused the whole transaction) or one with a space must not stop its activities."""
    c = build_commune(node)
    long_uri = "https://ciudad.example/actors/" + "x" * 900
    odd_uri = "https://ciudad.example/actors/la sur"
    with c.session() as s:
        audit.append(s, f"remote:{long_uri}", "decision.received", "body:maizal")
        audit.append(s, f"remote:{odd_uri}", "decision.received", "body:maizal")
        s.commit()
        actors = [e.actor for e in s.exec(select(AuditEntry)).all()]
        assert f"remote:{long_uri}" in actors and f"remote:{odd_uri}" in actors
        assert audit.verify_chain(s) == (True, None)
    with pytest.raises(ValueError):
        audit.actor_name("remote:https://ciudad.example/a\nb")
