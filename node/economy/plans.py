"""Joint projects of federated enterprises (FEP-3264): a body drafts a `Plan` of
processes whose input and output `Commitment`s name the bodies that give and
receive; every participating body decides it through its own decision machinery (a
proposal in that body, deliberated and voted or decided in assembly like any other);
once decided, its node answers `Accept` or `Reject` of each of its commitments; when
every participant has accepted, the initiator confirms with `Accept` of the plan and
every node records the commitments."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from node.economy import intents, states, wire
from node.economy.catalogue import fmt, quantity
from node.errors import Problem, not_found
from node.models import (
    Commitment,
    Decision,
    JointPlan,
    LocalActor,
    Proposal,
    ProposalVersion,
)
from node.outbox.publish import new_uid, publish, with_proof
from node.storage.rowlock import locked
from node.tx import Tx

INPUTS = ("work", "use", "consume", "cite", "pickup", "accept")
OUTPUTS = ("produce", "deliverService", "dropoff", "modify")


@dataclass(frozen=True)
class Step:
    id: str
    provider: str
    receiver: str
    action: str
    kind: str
    unit: str
    quantity: Decimal
    note: str


def _parties(doc: dict[str, Any]) -> list[Step]:
    out = []
    for proc in doc.get("planIncludes") or []:
        if not isinstance(proc, dict):
            raise wire.bad("planIncludes holds processes")
        for key in ("hasInput", "hasOutput"):
            for c in proc.get(key) or []:
                if not isinstance(c, dict) or c.get("type") != "Commitment":
                    raise wire.bad("a process holds commitments")
                amount = c.get("resourceQuantity") or c.get("effortQuantity")
                unit, q = wire.read_amount(amount, "quantity")
                action = str(c.get("action") or "")
                if action not in (INPUTS if key == "hasInput" else OUTPUTS):
                    raise wire.bad(f"{action!r} is not an action for {key}")
                out.append(Step(str(c.get("id") or ""), str(c.get("provider") or ""),
                                str(c.get("receiver") or ""), action,
                                str(c.get("resourceConformsTo") or ""), unit, q,
                                str(c.get("content") or "")[:2000]))
    if not out or not all(s.id.startswith(str(doc.get("id")) + "#") and
                          s.provider.startswith("http") and s.receiver.startswith("http")
                          for s in out):
        raise wire.bad("a plan needs commitments with ids under the plan and both sides")
    return out


def participants(doc: dict[str, Any]) -> list[str]:
    return sorted({p for s in _parties(doc) for p in (s.provider, s.receiver)})


def build(tx: Tx, body: LocalActor, title: str, content: str,
          processes: list[dict[str, Any]]) -> dict[str, Any]:
    """The Plan document, checked; quantities and kinds against the catalogue."""
    urls = tx.urls
    cat = intents.catalogue(tx.session)
    uri = urls.obj(f"plan-{new_uid()}")
    n = 0
    procs = []
    for i, p in enumerate(processes):
        proc: dict[str, Any] = {"id": f"{uri}#p{i}", "type": "Process",
                                "name": str(p.get("name") or "")[:300],
                                "content": str(p.get("content") or "")[:5000],
                                "hasInput": [], "hasOutput": []}
        for key, field in (("hasInput", "inputs"), ("hasOutput", "outputs")):
            for c in p.get(field) or []:
                kind = str(c.get("kind") or "")
                if cat.kind(kind) is None:
                    raise Problem(422, "unknown-kind", f"{kind} is not in the catalogue")
                cat.factor(kind, str(c.get("unit") or ""))
                amount = wire.amount(str(c["unit"]), quantity(c.get("quantity")))
                unit_key = "effortQuantity" if cat.factor(kind, str(c["unit"]))[0] == "time" \
                    else "resourceQuantity"
                proc[key].append({
                    "id": f"{uri}#c{n}", "type": "Commitment", "action": c.get("action"),
                    "provider": c.get("provider") or urls.actor(body.handle),
                    "receiver": c.get("receiver") or urls.actor(body.handle),
                    "resourceConformsTo": kind, unit_key: amount,
                    "content": str(c.get("note") or "")[:2000]})
                n += 1
        procs.append(proc)
    doc = {"id": uri, "type": "Plan", "attributedTo": urls.actor(body.handle),
           "name": title.strip()[:300], "content": content[:20000],
           "published": tx.now().strftime("%Y-%m-%dT%H:%M:%SZ"), "planIncludes": procs}
    _parties(doc)  # the same checks a receiver makes
    return doc


def draft(tx: Tx, body: LocalActor, doc: dict[str, Any], inboxes: dict[str, str]) -> JointPlan:
    """Record and send the plan; each participant (this body too) decides it."""
    session, urls = tx.session, tx.urls
    states.require(session, urls, tx.member, body, body, "draft_plan")
    if not str(doc.get("name") or "").strip():
        raise Problem(422, "bad-title", "a plan needs a title")
    signed = with_proof(urls, body, {"@context": wire.contexts(urls.context), **doc})
    here = urls.actor(body.handle)
    people = participants(doc)
    row = JointPlan(uri=doc["id"], body_id=body.id or 0, initiator=here, title=doc["name"],
                    doc=json.dumps(signed), participants=json.dumps(
                        {p: inboxes.get(p, "") for p in people}, sort_keys=True))
    session.add(row)
    session.flush()
    if here in people:
        row.proposal_id = _proposal(tx, body, here, signed)
    remote = {inboxes[p] for p in people if p != here and inboxes.get(p)}
    publish(tx, body, {
        "@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
        "type": "Create", "actor": here, "object": signed, "to": people},
        to_followers=False, inboxes=remote)
    tx.audit("plan.drafted", f"plan:{row.id}", {"uri": row.uri, "participants": people})
    return row


def _proposal(tx: Tx, body: LocalActor, body_uri: str, doc: dict[str, Any]) -> int:
    """The proposal through which this body decides the plan."""
    session = tx.session
    mine = [s for s in _parties(doc) if body_uri in (s.provider, s.receiver)]
    lines = [f"- {s.action}: {fmt(s.quantity)} {s.unit} · {s.kind} · {s.provider} → "
             f"{s.receiver}" + (f" ({s.note})" if s.note else "") for s in mine]
    text = (f"{doc.get('content') or ''}\n\nLo que este plan pide de nosotros:\n" +
            "\n".join(lines) + f"\n\nPlan: {doc['id']}")
    p = Proposal(body_id=body.id or 0, author_id=None, state="deliberation",
                 affects=json.dumps([body_uri]))
    session.add(p)
    session.flush()
    session.add(ProposalVersion(proposal_id=p.id or 0, number=1,
                                title=f"Plan conjunto: {doc.get('name')}"[:300], text=text,
                                author_id=None, origin="plan"))
    return p.id or 0


def receive(tx: Tx, body: LocalActor, body_uri: str, doc: dict[str, Any],
            initiator_inbox: str) -> JointPlan | None:
    session = tx.session
    if body_uri not in participants(doc):
        raise Problem(403, "not-a-party", "this plan asks nothing of this body")
    if session.exec(select(JointPlan).where(JointPlan.uri == doc["id"],
                                            JointPlan.body_id == body.id)).first():
        return None
    row = JointPlan(uri=doc["id"], body_id=body.id or 0, initiator=str(doc["attributedTo"]),
                    initiator_inbox=initiator_inbox, title=str(doc.get("name"))[:300],
                    doc=json.dumps(doc))
    row.proposal_id = _proposal(tx, body, body_uri, doc)
    session.add(row)
    session.flush()
    tx.acting_as(f"remote:{row.initiator}").audit(
        "plan.received", f"plan:{row.id}", {"uri": row.uri, "proposal": row.proposal_id})
    return row


def decided_unanswered(session: Session) -> list[int]:
    """The plans `answer_decided` would answer now: unanswered, and their body has
    decided the proposal through which it decides them."""
    ids = session.exec(
        select(JointPlan.id)
        .join(LocalActor, col(LocalActor.id) == col(JointPlan.body_id))
        .where(JointPlan.answered == "",
               col(JointPlan.proposal_id).in_(select(Decision.proposal_id)))
        .order_by(col(JointPlan.id))).all()
    return [i for i in ids if i is not None]


def answer_decided(tx: Tx, plan_id: int | None = None) -> int:
    """Answer every plan (or only `plan_id`) whose proposal this body has decided (the
    body's decision, not anyone's click): adopted → Accept of each of its commitments,
    else Reject."""
    session, urls = tx.session, tx.urls
    q = select(JointPlan.id).where(JointPlan.answered == "",
                                   col(JointPlan.proposal_id).is_not(None))
    if plan_id is not None:
        q = q.where(JointPlan.id == plan_id)
    ids = list(session.exec(q).all())
    done = 0
    for plan in ids:
        # Another process's pass may answer it first, and a participant's answer may
        # be recorded meanwhile (receive_answer): read it again under the lock.
        row = locked(session, JointPlan, col(JointPlan.id) == plan)
        if row is None or row.answered:
            continue
        d = session.exec(select(Decision).where(Decision.proposal_id == row.proposal_id)).first()
        body = session.get(LocalActor, row.body_id)
        if d is None or body is None:
            continue
        accept = d.outcome == "adopted"
        row.answered, row.updated_at = ("accept" if accept else "refuse"), tx.now()
        session.add(row)
        here = urls.actor(body.handle)
        doc = json.loads(row.doc)
        mine = [s.id for s in _parties(doc) if here in (s.provider, s.receiver)]
        if row.initiator == here:
            for cid in mine:
                receive_answer(tx, body, here, cid, accept)
        else:
            for cid in mine:
                publish(tx, body, {
                    "@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
                    "type": "Accept" if accept else "Reject", "actor": here, "object": cid,
                    "content": "" if accept else "la asamblea no lo aprobó",
                    "to": [row.initiator]}, to_followers=False,
                    inboxes={row.initiator_inbox} if row.initiator_inbox else set())
        done += 1
    return done


def receive_answer(tx: Tx, body: LocalActor, party: str,
                   commitment_id: str, accept: bool) -> JointPlan:
    """At the initiator: a participant's answer about one of its commitments."""
    session, urls = tx.session, tx.urls
    # Answers to one plan arrive together (each side, each commitment): each adds its
    # own to `answers`, so each reads the row after the one before has committed.
    row = locked(session, JointPlan,
                 col(JointPlan.uri) == commitment_id.split("#", 1)[0],
                 col(JointPlan.body_id) == body.id,
                 col(JointPlan.initiator) == urls.actor(body.handle))
    if row is None:
        raise not_found("plan")
    doc = json.loads(row.doc)
    steps = {s.id: s for s in _parties(doc)}
    step = steps.get(commitment_id)
    if step is None or party not in (step.provider, step.receiver):
        raise Problem(403, "not-a-party", "only the two sides of a commitment answer it")
    if row.state != "proposed":
        raise Problem(409, "not-proposed", f"this plan is {row.state}")
    got = json.loads(row.answers)
    got[f"{commitment_id} {party}"] = "accept" if accept else "refuse"
    row.answers, row.updated_at = json.dumps(got, sort_keys=True), tx.now()
    inboxes = {i for p, i in json.loads(row.participants).items() if i}
    if not accept:
        states.PLAN.move(session, row, "refuse")
        publish(tx, body, {
            "@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
            "type": "Reject", "actor": row.initiator, "object": row.uri,
            "content": f"{party} no aprobó su parte"}, to_followers=False, inboxes=inboxes)
    elif all(got.get(f"{s.id} {p}") == "accept" for s in steps.values()
             for p in (s.provider, s.receiver)):
        states.PLAN.move(session, row, "approve")
        _record(tx, row.uri, doc)
        publish(tx, body, {
            "@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
            "type": "Accept", "actor": row.initiator, "object": row.uri}, to_followers=False,
            inboxes=inboxes)
    session.add(row)
    tx.acting_as(f"remote:{party}").audit(
        "plan.answer", f"plan:{row.id}",
        {"commitment": commitment_id, "accept": accept, "state": row.state})
    return row


def _record(tx: Tx, plan_uri: str, doc: dict[str, Any]) -> None:
    session = tx.session
    for s in _parties(doc):
        if session.exec(select(Commitment.id).where(Commitment.uri == s.id)).first():
            continue
        session.add(Commitment(uri=s.id, exchange=plan_uri, provider=s.provider,
                               receiver=s.receiver, provider_agent=s.provider,
                               receiver_agent=s.receiver, offer="", need="", kind=s.kind,
                               unit=s.unit, quantity=fmt(s.quantity), state="agreed"))


def receive_outcome(tx: Tx, body: LocalActor, initiator: str, plan_uri: str,
                    approved: bool) -> bool:
    session = tx.session
    row = session.exec(select(JointPlan).where(JointPlan.uri == plan_uri,
                                               JointPlan.body_id == body.id)).first()
    if row is None or row.initiator != initiator or row.state != "proposed":
        return False
    states.PLAN.move(session, row, "approve" if approved else "refuse")
    session.add(row)
    if approved:
        _record(tx, row.uri, json.loads(row.doc))
    return True


def view(row: JointPlan, recorded: dict[str, Commitment] | None = None) -> dict[str, Any]:
    """`recorded`: the commitments this node holds (once approved), by URI."""
    doc = json.loads(row.doc)
    got = recorded or {}
    return {"id": row.id, "uri": row.uri, "initiator": row.initiator, "title": row.title,
            "state": row.state, "proposal_id": row.proposal_id, "answered": row.answered,
            "answers": json.loads(row.answers), "participants": participants(doc),
            "commitments": [{"uri": s.id, "provider": s.provider, "receiver": s.receiver,
                             "action": s.action, "kind": s.kind, "unit": s.unit,
                             "quantity": fmt(s.quantity), "note": s.note,
                             "id": got[s.id].id if s.id in got else None,
                             "state": got[s.id].state if s.id in got else None,
                             "delivered": got[s.id].delivered if s.id in got else None}
                            for s in _parties(doc)]}


def recorded(session: Session, rows: list[JointPlan]) -> dict[str, Commitment]:
    if not rows:
        return {}
    found = session.exec(select(Commitment).where(
        col(Commitment.exchange).in_([r.uri for r in rows]))).all()
    return {c.uri: c for c in found}
