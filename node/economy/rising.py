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

from node.activitypub.urls import Urls
from node.economy import exchanges, intents, states, wire
from node.economy.catalogue import fmt
from node.errors import Problem
from node.federations.matters import keep
from node.federations.membership import inboxes
from node.models import Commitment, Exchange, Intent, LocalActor
from node.models.base import aware
from node.models.matters import SignedObject
from node.outbox.publish import forward, new_uid, publish, with_proof
from node.tx import Tx

CREATE, UPDATE = "IntentCreate", "IntentUpdate"


def signed(urls: Urls, body: LocalActor, obj: dict[str, Any]) -> dict[str, Any]:
    """The object's own proof, so that it verifies wherever it is passed on."""
    return with_proof(urls, body, {"@context": wire.contexts(urls.context), **obj})


def due(session: Session, now: datetime) -> list[Intent]:
    return list(session.exec(select(Intent).where(
        Intent.state == "open", col(Intent.rise_at).is_not(None),
        col(Intent.rise_at) <= now).order_by(col(Intent.id))).all())


def rise(tx: Tx, row: Intent) -> list[str]:
    """Send one intent one level up from its holder; returns the federations."""
    session, urls = tx.session, tx.urls
    holder = session.get(LocalActor, row.holder_id)
    row.rise_at, row.updated_at = None, tx.now()
    session.add(row)
    if holder is None:
        return []
    feds = inboxes(session, holder, "member_of")
    if not feds:
        return []
    if not row.received_from:
        obj = signed(urls, holder, wire.intent_object(intents.doc_of(row),
                                                      wire.stamp_of(tx.now())))
        activity = {"@context": wire.contexts(urls.context),
                    "id": urls.activity(new_uid()), "type": "Create", "actor": row.body,
                    "object": obj, "to": sorted(feds)}
        item = publish(tx, holder, activity, to_followers=False,
                       inboxes=set(feds.values()))
        keep(session, json.loads(item.body), CREATE, row.body, row.uri)
    else:
        # The author's Create, then every Update of it we kept (the next holder follows
        # the newest of them, as we do).
        targets = set(feds.values())
        for uri_kind in (CREATE, UPDATE):
            for doc in _kept(session, row.uri, uri_kind, row.body):
                forward(tx, holder, doc, targets)
    row.risen_to = json.dumps(sorted(set(json.loads(row.risen_to)) | set(feds)))
    return sorted(feds)


def _kept(session: Session, uri: str, kind: str, author: str) -> list[dict[str, Any]]:
    rows = session.exec(select(SignedObject.body).where(
        SignedObject.matter == uri, SignedObject.type == kind, SignedObject.author == author)
        .order_by(col(SignedObject.id))).all()
    return [json.loads(b) for b in rows]


def left_to_offer(session: Session, row: Intent) -> Decimal:
    """What the author says is left of its offer or need: nothing once withdrawn;
    otherwise what agreements have not taken. Holds of exchanges still waiting for
    answers are not subtracted: they may come back, and 0 tells every copy that the
    offer is gone for good."""
    if row.state == "withdrawn":
        return Decimal(0)
    pending = session.exec(select(Commitment).where(
        Commitment.state == "proposed",
        (col(Commitment.offer) == row.uri) | (col(Commitment.need) == row.uri))).all()
    cat = intents.catalogue(session)
    held = sum((exchanges.in_unit(cat, d, row) for d in exchanges.docs_of(list(pending))),
               Decimal(0))
    return min(Decimal(row.available) + held, Decimal(row.quantity))


def announce_change(tx: Tx, body: LocalActor, row: Intent) -> None:
    """Tell every federation the intent rose to what is left of it (0 once matched
    or withdrawn), so that no level goes on matching what is gone."""
    session, urls = tx.session, tx.urls
    targets = json.loads(row.risen_to)
    if not targets:
        return
    feds = inboxes(session, body, "member_of")
    doc = wire.IntentDoc(**{**intents.doc_of(row).__dict__,
                            "available": left_to_offer(session, row)})
    obj = signed(urls, body, wire.intent_object(doc, wire.stamp_of(tx.now())))
    activity = {"@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
                "type": "Update", "actor": row.body, "object": obj, "to": targets}
    item = publish(tx, body, activity, to_followers=False,
                   inboxes={feds[t] for t in targets if t in feds})
    keep(session, json.loads(item.body), UPDATE, row.body, row.uri)


def announce_rows(tx: Tx, body: LocalActor, uris: list[str]) -> None:
    """`announce_change` for each of the body's own offers and needs named (once each)."""
    for uri in dict.fromkeys(uris):
        row = intents.own_by_uri(tx.session, body, uri)
        if row is not None:
            announce_change(tx, body, row)


# --- at a federation ---------------------------------------------------------------


def hold(tx: Tx, federation: LocalActor, sender: str, activity: dict[str, Any],
         doc: wire.IntentDoc, body_inbox: str) -> Intent | None:
    """Keep a member's offer or need (or one passed up by a member federation). An
    `Update` of it that came first (deliveries may cross) applies at once."""
    session = tx.session
    if intents.held_by_uri(session, federation, doc.id) is not None:
        return None
    keep(session, activity, CREATE, doc.body, doc.id, sender)
    now = tx.now()
    row = Intent(uri=doc.id, holder_id=federation.id or 0, side=doc.side, body=doc.body,
                 agent=doc.agent, kind=doc.kind, unit=doc.unit, quantity=fmt(doc.quantity),
                 available=fmt(doc.available), summary=doc.summary, location=doc.location,
                 starts_at=doc.starts_at, ends_at=doc.ends_at, rise_after=doc.rise_after,
                 rise_at=now + timedelta(seconds=doc.rise_after), received_from=sender,
                 body_inbox=body_inbox, in_return=doc.in_return)
    _apply(tx, federation, row, doc.available)
    word = _word(session, doc.id, doc.body)
    if word is not None:
        _apply(tx, federation, row, word)
    session.add(row)
    session.flush()
    tx.wake("economy")  # broker it at the next pass, not a tick later
    return row


def update_held(tx: Tx, federation: LocalActor, activity: dict[str, Any],
                doc: wire.IntentDoc) -> bool:
    """The author says what is left: our copy follows, less what our own proposals
    still hold; passed on to wherever we sent it. 0 left withdraws the copy for good
    (the author matched or withdrew it): it is never proposed on again. Updates may
    cross on the way: the copy follows the newest (by `published`) of those kept."""
    session = tx.session
    if session.exec(select(SignedObject.id).where(
            SignedObject.uri == str(activity.get("id")))).first() is not None:
        return False
    row = intents.held_by_uri(session, federation, doc.id)
    if row is None:
        # Its Create may still be on the way: keep the word for when it comes.
        keep(session, activity, UPDATE, doc.body, doc.id, "")
        return False
    if row.body != doc.body:
        return False
    keep(session, activity, UPDATE, doc.body, doc.id, row.received_from)
    word = _word(session, doc.id, doc.body)
    _apply(tx, federation, row, doc.available if word is None else word)
    session.add(row)
    tx.wake("economy")
    feds = inboxes(session, federation, "member_of")
    targets = {feds[t] for t in json.loads(row.risen_to) if t in feds}
    if targets:
        forward(tx, federation, activity, targets)
    return True


def _word(session: Session, uri: str, author: str, since: datetime | None = None
          ) -> Decimal | None:
    """What the author's kept `Update`s (received after `since`) say is left: 0 if any
    says it is gone, else the newest by `published`; None if there is none."""
    stmt = select(SignedObject).where(SignedObject.matter == uri, SignedObject.type == UPDATE,
                                      SignedObject.author == author)
    newest: tuple[str, Decimal] | None = None
    for kept_row in session.exec(stmt).all():
        if since is not None and aware(kept_row.created_at) <= aware(since):
            continue
        activity = json.loads(kept_row.body)
        try:
            left = wire.read_intent(activity.get("object")).available
        except Problem:
            continue
        if left <= 0:
            return Decimal(0)
        if newest is None or _published(activity) >= newest[0]:
            newest = (_published(activity), left)
    return newest[1] if newest else None


def _apply(tx: Tx, federation: LocalActor, row: Intent, stated: Decimal) -> None:
    """Set a held copy from what its author says is left."""
    row.updated_at = tx.now()
    if row.state == "withdrawn":
        return
    if stated <= 0:
        _move(tx, row, "drop", available="0", rise_at=None)
        return
    left = stated - _held_by_our_proposals(tx.session, federation, row) if row.id else stated
    row.available = fmt(max(left, Decimal(0)))
    if left <= 0 and row.state == "open":
        _move(tx, row, "fill", rise_at=None)
    elif left > 0 and row.state == "matched":
        _move(tx, row, "reopen")


def _move(tx: Tx, row: Intent, action: str, **values: Any) -> None:
    """A copy's state through its graph; a copy not stored yet is simply created in
    the state the step leads to."""
    if row.id is None:
        row.state = states.INTENT.steps[action].target
        for k, v in values.items():
            setattr(row, k, v)
        return
    states.INTENT.move(tx.session, row, action, **values)


def shortfall(tx: Tx, federation: LocalActor, ex: Exchange, party: str, code: str,
              named: list[str]) -> None:
    """A party refused one of our exchanges because what it asked is gone (`withdrawn`)
    or more than is left (`exhausted`): stop proposing on our copies of those offers and
    needs. Withdrawn is final; exhausted waits for the author's next `Update`, unless one
    received since we proposed already says what is left."""
    session = tx.session
    mine = {u for c in exchanges.commitments_of(session, ex)
            for u, side in ((c.offer, c.provider), (c.need, c.receiver)) if side == party}
    for uri in mine & set(named or mine):
        row = intents.held_by_uri(session, federation, uri)
        if row is None or row.body != party or row.state == "withdrawn":
            continue
        if code == "withdrawn":
            _apply(tx, federation, row, Decimal(0))
        else:
            word = _word(session, uri, party, since=ex.created_at)
            if word is not None:
                _apply(tx, federation, row, word)
            elif row.state == "open":
                _move(tx, row, "fill", available="0")
            else:
                row.available, row.updated_at = "0", tx.now()
        session.add(row)


def _published(activity: dict[str, Any]) -> str:
    obj = activity.get("object")
    return str(obj.get("published") or "") if isinstance(obj, dict) else ""


def _held_by_our_proposals(session: Session, federation: LocalActor, row: Intent) -> Decimal:
    ours = session.exec(select(Commitment).join(
        Exchange, col(Exchange.uri) == col(Commitment.exchange)).where(
        Exchange.proposer_id == federation.id, Exchange.state == "proposed",
        (col(Commitment.offer) == row.uri) | (col(Commitment.need) == row.uri))).all()
    cat = intents.catalogue(session)
    return sum((exchanges.in_unit(cat, d, row) for d in exchanges.docs_of(list(ours))),
               Decimal(0))
