"""Unmatched offers and needs rise one level at a time: from the body that made them
to its federations after the body's waiting window, and from each federation to its
own federations after the same window, unless matched on the way. The signed
`Create` of the author travels unchanged (its proof verifies at every level); so do
its later `Update`s (what is still available; 0 once matched or withdrawn).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from node.economy import exchanges, intents, wire
from node.economy.catalogue import fmt
from node.federation.urls import Urls
from node.federations.matters import keep, now_stamp
from node.federations.membership import inboxes
from node.models import Commitment, Exchange, Intent, LocalActor
from node.models.base import utcnow
from node.models.matters import SignedObject
from node.outbox.publish import forward, new_uid, publish, with_proof

CREATE, UPDATE = "IntentCreate", "IntentUpdate"


def signed(urls: Urls, body: LocalActor, obj: dict[str, Any]) -> dict[str, Any]:
    """The object's own proof, so that it verifies wherever it is passed on."""
    return with_proof(urls, body, {"@context": wire.contexts(urls.context), **obj})


def due(session: Session, now: datetime) -> list[Intent]:
    return list(session.exec(select(Intent).where(
        Intent.state == "open", col(Intent.rise_at).is_not(None),
        col(Intent.rise_at) <= now).order_by(col(Intent.id))).all())


def rise(session: Session, urls: Urls, row: Intent) -> list[str]:
    """Send one intent one level up from its holder; returns the federations."""
    holder = session.get(LocalActor, row.holder_id)
    row.rise_at, row.updated_at = None, utcnow()
    session.add(row)
    if holder is None:
        return []
    feds = inboxes(session, holder, "member_of")
    if not feds:
        return []
    if not row.received_from:
        obj = signed(urls, holder, wire.intent_object(intents.doc_of(row), now_stamp()))
        activity = {"@context": wire.contexts(urls.context),
                    "id": urls.activity(new_uid()), "type": "Create", "actor": row.body,
                    "object": obj, "to": sorted(feds)}
        item = publish(session, urls, holder, activity, to_followers=False,
                       inboxes=set(feds.values()))
        keep(session, json.loads(item.body), CREATE, row.body, row.uri)
    else:
        for uri_kind in (CREATE, UPDATE):
            doc = _latest(session, row.uri, uri_kind)
            if doc is not None:
                forward(session, urls, holder, doc, set(feds.values()))
    row.risen_to = json.dumps(sorted(set(json.loads(row.risen_to)) | set(feds)))
    return sorted(feds)


def _latest(session: Session, uri: str, kind: str) -> dict[str, Any] | None:
    got = session.exec(select(SignedObject).where(
        SignedObject.matter == uri, SignedObject.type == kind)
        .order_by(col(SignedObject.id).desc())).first()
    return json.loads(got.body) if got else None


def announce_change(session: Session, urls: Urls, body: LocalActor, row: Intent) -> None:
    """Tell every federation the intent rose to what is left of it (0 once matched
    or withdrawn), so that no level goes on matching what is gone."""
    targets = json.loads(row.risen_to)
    if not targets:
        return
    feds = inboxes(session, body, "member_of")
    doc = intents.doc_of(row)
    if row.state == "withdrawn":
        doc = wire.IntentDoc(**{**doc.__dict__, "available": Decimal(0)})
    obj = signed(urls, body, wire.intent_object(doc, now_stamp()))
    activity = {"@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
                "type": "Update", "actor": row.body, "object": obj, "to": targets}
    item = publish(session, urls, body, activity, to_followers=False,
                   inboxes={feds[t] for t in targets if t in feds})
    keep(session, json.loads(item.body), UPDATE, row.body, row.uri)


# --- at a federation ---------------------------------------------------------------


def hold(session: Session, federation: LocalActor, sender: str, activity: dict[str, Any],
         doc: wire.IntentDoc, body_inbox: str) -> Intent | None:
    """Keep a member's offer or need (or one passed up by a member federation)."""
    if intents.held_by_uri(session, federation, doc.id) is not None:
        return None
    keep(session, activity, CREATE, doc.body, doc.id, sender)
    now = utcnow()
    row = Intent(uri=doc.id, holder_id=federation.id or 0, side=doc.side, body=doc.body,
                 agent=doc.agent, kind=doc.kind, unit=doc.unit, quantity=fmt(doc.quantity),
                 available=fmt(doc.available), summary=doc.summary, location=doc.location,
                 starts_at=doc.starts_at, ends_at=doc.ends_at, rise_after=doc.rise_after,
                 rise_at=now + timedelta(seconds=doc.rise_after), received_from=sender,
                 body_inbox=body_inbox, in_return=doc.in_return,
                 state="open" if doc.available > 0 else "matched")
    session.add(row)
    session.flush()
    return row


def update_held(session: Session, urls: Urls, federation: LocalActor, activity: dict[str, Any],
                doc: wire.IntentDoc) -> bool:
    """The author says what is left: our copy follows, less what our own proposals
    still hold; passed on to wherever we sent it."""
    row = intents.held_by_uri(session, federation, doc.id)
    if row is None or row.body != doc.body:
        return False
    previous = _latest(session, doc.id, UPDATE)
    if previous is not None and str(previous.get("id")) == str(activity.get("id")):
        return False
    keep(session, activity, UPDATE, doc.body, doc.id, row.received_from)
    left = doc.available - _held_by_our_proposals(session, federation, row)
    row.available = fmt(max(left, Decimal(0)))
    if left <= 0 and row.state == "open":
        row.state, row.rise_at = "matched", None
    elif left > 0 and row.state == "matched":
        row.state = "open"
    row.updated_at = utcnow()
    session.add(row)
    feds = inboxes(session, federation, "member_of")
    targets = {feds[t] for t in json.loads(row.risen_to) if t in feds}
    if targets:
        forward(session, urls, federation, activity, targets)
    return True


def _held_by_our_proposals(session: Session, federation: LocalActor, row: Intent) -> Decimal:
    ours = session.exec(select(Commitment).join(
        Exchange, col(Exchange.uri) == col(Commitment.exchange)).where(
        Exchange.proposer_id == federation.id, Exchange.state == "proposed",
        (col(Commitment.offer) == row.uri) | (col(Commitment.need) == row.uri))).all()
    cat = intents.catalogue(session)
    return sum((exchanges.in_unit(cat, d, row) for d in exchanges.docs_of(list(ours))),
               Decimal(0))
