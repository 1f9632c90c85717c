"""Asking to join a federation whose node does not answer now is a failure that may
pass: 503 `federation-unreachable` with a retry time, never 422 `unknown-federation`,
which says the address leads nowhere. Nothing is recorded either way."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, select

from node.activitypub.directory import ActorFetchFailed, KeyUnavailable
from node.config import Settings
from node.errors import Problem
from node.federations import escalation
from node.models import FederationLink
from tests.govfixtures import build_commune

CITY = "https://ciudad.example/actors/ciudad"


@pytest.mark.parametrize(("failure", "status", "code"), [
    (KeyUnavailable(f"cannot fetch signer {CITY}: ReadTimeout: ", 7), 503,
     "federation-unreachable"),
    (ActorFetchFailed(f"cannot fetch signer {CITY}: HTTP 404"), 422, "unknown-federation"),
], ids=["timeout", "gone"])
def test_a_federation_that_does_not_answer_now_is_asked_again_not_unknown(
        node: Settings, monkeypatch: pytest.MonkeyPatch, failure: Exception, status: int,
        code: str) -> None:
    c = build_commune(node)

    async def fails(ctx: object, address: str) -> dict[str, object]:
        raise failure

    monkeypatch.setattr(escalation, "resolve_actor", fails)
    with pytest.raises(Problem) as refused:
        asyncio.run(escalation.join(c.ctx, c.people["facil"], c.assembly.handle, CITY))
    assert (refused.value.status, refused.value.code) == (status, code)
    assert refused.value.extra.get("field") == "federation"
    if status == 503:
        assert refused.value.extra["retry_after"] == 7
    with Session(c.ctx.engine) as s:
        assert s.exec(select(FederationLink)).all() == []
