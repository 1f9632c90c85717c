"""Inbox processing for the project bank: a record created by a member or one of our
federations (or passed on by them), or announced by a federation of ours; kept once,
then passed on by node.projects.bank."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from node.inbox.federated import id_of
from node.inbox.verify import Forbidden, verify_author_proof
from node.models import FederationLink, LocalActor
from node.projects import bank

if TYPE_CHECKING:
    from node.inbox.processor import InboxProcessor

log = logging.getLogger("comuna.projects")


def is_project(activity: dict[str, Any]) -> bool:
    kind, obj = activity.get("type"), activity.get("object")
    if kind == "Create":
        return bank.is_record(obj)
    return kind == "Announce" and isinstance(obj, dict) and obj.get("type") == "Create" and \
        bank.is_record(obj.get("object"))


class ProjectBank:
    def __init__(self, processor: InboxProcessor) -> None:
        self.p = processor
        self.ctx = processor.ctx

    def _linked(self, peer: str) -> list[tuple[LocalActor, str]]:
        """Our bodies linked to `peer` (as member or federation) and how."""
        with Session(self.ctx.engine, expire_on_commit=False) as s:
            rows = s.exec(select(FederationLink).where(
                FederationLink.remote_uri == peer, FederationLink.state == "accepted")).all()
            out = []
            for r in rows:
                body = s.get(LocalActor, r.body_id)
                if body is not None:
                    out.append((body, r.direction))
            return out

    async def handle(self, activity: dict[str, Any], signer: str) -> None:
        if activity.get("type") == "Announce":
            via = id_of(activity.get("actor"))
            create = activity["object"]
            bodies = [b for b, d in await asyncio.to_thread(self._linked, via)
                      if d == "member_of"]
        else:
            via, create = signer.split("#", 1)[0], activity
            bodies = [b for b, _ in await asyncio.to_thread(self._linked, via)]
        if not bodies:
            return  # only our members and our federations pass records to us
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
            await asyncio.to_thread(self.p.tx, bank.receive, self.ctx.urls, body, create, via)
        self.ctx.delivery_wakeup.set()
