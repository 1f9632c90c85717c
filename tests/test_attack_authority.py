"""The authority rule that lets a federation's Reject reach a mandate (inbox/authority
`_addressee`): only the federation the vote was sent to, and only for the body that sent
it; another federation or a stranger naming the vote's id moves nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import Session, select

from node.federations import mandates
from node.inbox import authority
from node.models import Member
from node.models.matters import Mandate
from node.models.outbox import OutboxItem
from tests.helpers import stored


def _reject(sender: str, named: str) -> dict[str, str]:
    return {"id": f"{sender}/activities/reject-x", "type": "Reject", "actor": sender,
            "object": named, "summary": "vote-closed", "content": "no"}


def test_only_the_federation_a_vote_went_to_may_reject_it(mandated: Any) -> None:
    c = mandated
    with Session(c.ctx.engine) as s:
        vote_uri = mandates.cast(c.ctx.tx(s, stored(s, Member, c.ids["ana"])), c.mandate_id,
                                 "for")
        s.commit()
        named = s.exec(select(OutboxItem.activity_id).where(
            OutboxItem.object_id == vote_uri)).one()
    stranger = "https://stranger.example/actors/x"
    for sender in (c.g.uri, stranger, c.c.uri):
        verdict = asyncio.run(authority.decide(c.ctx, _reject(sender, named), "maizal",
                                               sender))
        assert not verdict.allowed and verdict.code in ("not-addressee",), (sender, verdict)
        # Addressed to the shared inbox, the same.
        verdict = asyncio.run(authority.decide(c.ctx, _reject(sender, named), "", sender))
        assert not verdict.allowed, sender
    # Claiming to be the federation while another actor signs is refused too.
    spoof = _reject(c.f.uri, named)
    assert not asyncio.run(authority.decide(c.ctx, spoof, "maizal", stranger)).allowed
    assert asyncio.run(authority.decide(c.ctx, _reject(c.f.uri, named), "maizal",
                                        c.f.uri)).allowed
    with Session(c.ctx.engine) as s:
        assert stored(s, Mandate, c.mandate_id).state == "live"
