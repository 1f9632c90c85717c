"""Amendments to a federated matter, heard by the member bodies that decide it.

A member body's mandate may approve a matter only with named amendments, and those
amendments live at the federation: a member never saw them before, and its facilitators
had to copy URIs from elsewhere. The federation now announces each amendment to its
member bodies when it is proposed (`Create`) and whenever its fate changes (`Update`:
voting, accepted, rejected, stale); a member keeps the last word it heard for each, and
its pages offer them to pick. Only the federation the body's copy of the matter answers
to is heard, and only about that matter."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session, select

from node.federations import matters, objects
from node.models import Amendment, LocalActor, Proposal
from node.models.matters import FederatedAmendment
from node.tx import Tx

log = logging.getLogger("comuna.federations")

AMENDMENT = "Amendment"
STATES = ("open", "voting", "accepted", "rejected", "stale")
# Amendments kept per matter and federation: a mandate form can offer them all, and a
# federation gone wrong cannot fill a member's database or pages.
MAX_PER_MATTER = 100


def _held(session: Session, body: LocalActor, matter: str, federation: str) -> int:
    return len(session.exec(select(FederatedAmendment.id).where(
        FederatedAmendment.body_id == body.id, FederatedAmendment.matter == matter,
        FederatedAmendment.federation == federation)).all())


def announce(tx: Tx, federation: LocalActor, proposal: Proposal, a: Amendment) -> None:
    """Tell the member bodies of `federation` about amendment `a` to its matter, as it
    stands in this transaction."""
    if not proposal.matter:
        return
    urls = tx.urls
    matters.tell_members(tx, federation, {
        "id": objects.amendment_uri(urls.base, a.id or 0), "type": AMENDMENT,
        "attributedTo": urls.actor(federation.handle), "matter": proposal.matter,
        "name": a.title, "content": a.text, "mediaType": "text/plain",
        "againstVersion": a.against_version, "amendmentState": str(a.state),
        "published": matters.now_stamp(tx.now())},
        "Create" if a.state == "open" else "Update")


def receive(tx: Tx, body: LocalActor, federation: str, doc: dict[str, Any]) -> bool:
    """Keep what `federation` says of one of its amendments, if `body` holds that matter
    from it. False (nothing kept) otherwise, or for a malformed one."""
    session = tx.session
    uri, matter = str(doc.get("id") or ""), str(doc.get("matter") or "")
    state = str(doc.get("amendmentState") or "")
    version = doc.get("againstVersion")
    if not uri or not matter or state not in STATES or not isinstance(version, int):
        log.warning("amendment %r from %s: malformed", uri, federation)
        return False
    if not matters.rows_from(session, body.id or 0, matter, federation):
        log.info("amendment %s: %s holds no matter %s from %s", uri, body.handle, matter,
                 federation)
        return False
    row = session.exec(select(FederatedAmendment).where(
        FederatedAmendment.body_id == body.id, FederatedAmendment.uri == uri)).first()
    if row is not None and (row.federation != federation or row.matter != matter):
        # Another federation (on the same host, or the id reused) cannot rewrite it.
        log.warning("amendment %s: %s may not change what %s said of it", uri, federation,
                    row.federation)
        return False
    if row is None and _held(session, body, matter, federation) >= MAX_PER_MATTER:
        log.warning("amendment %s: %s already announced %d on %s; not kept", uri,
                    federation, MAX_PER_MATTER, matter)
        return False
    now = tx.now()
    if row is None:
        row = FederatedAmendment(body_id=body.id or 0, uri=uri, matter=matter,
                                 federation=federation, received_at=now)
    row.title = str(doc.get("name") or "")[:300]
    row.text = str(doc.get("content") or "")[:20_000]
    row.against_version, row.state, row.updated_at = version, state, now
    session.add(row)
    return True


def of_matter(session: Session, body: LocalActor, matter: str) -> list[FederatedAmendment]:
    """The amendments `body` heard of on `matter`, oldest first."""
    return list(session.exec(select(FederatedAmendment).where(
        FederatedAmendment.body_id == body.id, FederatedAmendment.matter == matter)
        .order_by(FederatedAmendment.id)).all())  # type: ignore[arg-type]


def pickable(rows: list[FederatedAmendment], version: int) -> list[FederatedAmendment]:
    """Those a mandate on `version` may still depend on: not refused, and proposed
    against this version or already in its text."""
    return [r for r in rows if r.state in ("open", "voting", "accepted")
            and (r.state == "accepted" or r.against_version == version)]

