"""Inbox processing for the project bank: a record created by a member or one of our
federations (or passed on by them), or announced by a federation of ours; kept once,
then passed on by node.projects.bank."""

from __future__ import annotations

import logging
from typing import Any

from node.inbox.deps import HandlerDeps
from node.inbox.ownership import id_of
from node.inbox.verify import Forbidden, verify_author_proof
from node.models import LocalActor
from node.projects import bank

log = logging.getLogger("comuna.projects")


class ProjectBank:
    def __init__(self, deps: HandlerDeps) -> None:
        self.ctx = deps.ctx
        self._tx = deps.tx

    async def handle(self, activity: dict[str, Any], bodies: list[LocalActor],
                     sender: str) -> None:
        """`bodies`: ours linked to `sender` as the authority requires (members or
        federations for a record; federations for an `Announce` of one)."""
        via = sender
        create = activity["object"] if activity.get("type") == "Announce" else activity
        author = id_of(create.get("actor"))
        obj = create.get("object")
        if not isinstance(obj, dict) or obj.get("attributedTo") != author:
            return
        try:
            await verify_author_proof(create, author, self.ctx.directory)
            await verify_author_proof(obj, author, self.ctx.directory)
        except Forbidden as exc:
            log.warning("project record %s refused: %s", obj.get("id"), exc)
            return
        for body in bodies:
            await self._tx(None, bank.receive, body, create, via)
