"""The lives of the economy's things as state graphs, and who may do what to them now.

Every state change of an offer or need, an exchange, a commitment, a delivery or a
joint plan goes through its graph's `move` (one compare-and-set). What a person may
do is answered once, by `available_actions`: for each action, either nothing (it is
offered) or the refusal it would get. The mutators call `require`, which raises that
same refusal, so the pages (which show only what is offered), the JSON API (its
`actions` lists) and the domain cannot drift apart."""

from __future__ import annotations

import json
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from node.activitypub.urls import Urls
from node.errors import Problem, forbidden
from node.governance.members import roles_in
from node.lifecycle import Graph
from node.models import (
    Commitment,
    EconomicEvent,
    Enterprise,
    EnterpriseWorker,
    Exchange,
    Intent,
    JointPlan,
    LocalActor,
    Member,
)


class IntentState(StrEnum):
    open = "open"
    matched = "matched"
    withdrawn = "withdrawn"


class ExchangeState(StrEnum):
    proposed = "proposed"
    agreed = "agreed"
    refused = "refused"


class CommitmentState(StrEnum):
    proposed = "proposed"
    agreed = "agreed"
    partial = "partial"
    fulfilled = "fulfilled"
    cancelled = "cancelled"


class EventState(StrEnum):
    recorded = "recorded"
    confirmed = "confirmed"
    disputed = "disputed"


class PlanState(StrEnum):
    proposed = "proposed"
    approved = "approved"
    refused = "refused"


X, C, E, P = ExchangeState, CommitmentState, EventState, PlanState

INTENT = (Graph("offer or need", Intent, IntentState)
          # The body takes it back (a person's action).
          .step("withdraw", [IntentState.open], IntentState.withdrawn)
          # Nothing left free (all held or committed), and something given back.
          .step("fill", [IntentState.open], IntentState.matched)
          .step("reopen", [IntentState.matched], IntentState.open)
          # A federation's copy whose author withdrew it, or has nothing left of it.
          .step("drop", [IntentState.open, IntentState.matched], IntentState.withdrawn))

EXCHANGE = (Graph("exchange", Exchange, ExchangeState)
            .step("agree", [X.proposed], X.agreed)
            .step("refuse", [X.proposed], X.refused))

COMMITMENT = (Graph("commitment", Commitment, CommitmentState)
              .step("agree", [C.proposed], C.agreed)
              # Its exchange was refused before it was agreed.
              .step("call_off", [C.proposed], C.cancelled)
              .step("deliver_part", [C.agreed, C.partial], C.partial)
              .step("fulfil", [C.agreed, C.partial], C.fulfilled)
              .step("cancel", [C.agreed, C.partial], C.cancelled))

EVENT = (Graph("delivery", EconomicEvent, EventState)
         .step("confirm", [E.recorded], E.confirmed)
         .step("dispute", [E.recorded], E.disputed))

PLAN = (Graph("joint plan", JointPlan, PlanState)
        .step("approve", [P.proposed], P.approved)
        .step("refuse", [P.proposed], P.refused))

# Where a delivery may still be recorded against a commitment (not a move: the
# commitment's state changes when the receiver confirms).
DELIVERABLE = (C.agreed, C.partial)

Why = Problem | None


def _council_of(session: Session, member: Member, ids: set[int]) -> bool:
    if not ids:
        return False
    rows = session.exec(select(EnterpriseWorker.enterprise_id).where(
        EnterpriseWorker.member_id == member.id, EnterpriseWorker.council)).all()
    return ids <= set(rows)


def answerer(session: Session, member: Member | None, body: LocalActor,
             enterprise_ids: set[int]) -> Why:
    """Who answers for the body in the economy: its coordinators; or, when every
    offer or need concerned is an enterprise's, that enterprise's council. None when
    `member` may, else the refusal."""
    if member is None:
        return Problem(401, "unauthenticated", "log in or send a bearer token")
    roles = roles_in(session, member, body)
    if "member" not in roles:
        return forbidden(f"only members of {body.handle} may do this")
    if "facilitator" in roles or _council_of(session, member, enterprise_ids):
        return None
    return forbidden(f"only facilitators of {body.handle} or the enterprise's council may "
                     "answer for it")


def coordinator(session: Session, member: Member | None, body: LocalActor) -> Why:
    if member is None:
        return Problem(401, "unauthenticated", "log in or send a bearer token")
    roles = roles_in(session, member, body)
    if "member" not in roles:
        return forbidden(f"only members of {body.handle} may do this")
    if "facilitator" not in roles:
        return forbidden(f"only facilitators of {body.handle} may do this")
    return None


def _state(graph: Graph, action: str, obj: Any, state: str | None = None) -> Why:
    now = state if state is not None else str(getattr(obj, graph.column))
    if graph.may(action, now):
        return None
    return Problem(409, "bad-state", f"this {graph.name} is {now}: cannot {action}",
                   state=now, action=action)


def _first(*whys: Why) -> Why:
    return next((w for w in whys if w is not None), None)


def _agent_ids(session: Session, urls: Urls, body: LocalActor, agent: str) -> set[int]:
    """The enterprise of `body` that `agent` names, if it is one."""
    prefix = f"{urls.actor(body.handle)}/enterprises/"
    if not agent.startswith(prefix):
        return set()
    row = session.exec(select(Enterprise).where(Enterprise.body_id == body.id,
                                                Enterprise.slug == agent[len(prefix):])).first()
    return {row.id} if row is not None and row.id is not None else set()


# One function per kind of thing: action -> None (offered) or the refusal.

def intent_reasons(session: Session, urls: Urls, member: Member | None, body: LocalActor,
                   row: Intent) -> dict[str, Why]:
    if row.holder_id != body.id or row.received_from:
        # A copy a federation holds is its author's to change, not ours.
        return {"withdraw": Problem(404, "not-found", "no such offer or need")}
    who = answerer(session, member, body, {row.enterprise_id} if row.enterprise_id else set())
    return {"withdraw": _first(who, _state(INTENT, "withdraw", row))}


def _exchange_ours(session: Session, urls: Urls, body: LocalActor,
                   ex: Exchange) -> tuple[bool, set[int]]:
    """Whether the exchange waits for `body`'s answer, and the enterprises whose
    offers and needs it concerns."""
    from node.economy import exchanges, intents

    me = urls.actor(body.handle)
    if ex.mode == "allocation":
        ours = ex.proposer_id == body.id
        rows = exchanges.commitments_of(session, ex)
        offer = intents.held_by_uri(session, body, rows[0].offer) if rows else None
        ids = {offer.enterprise_id} if offer and offer.enterprise_id else set()
        return ours, ids
    ours = ex.proposer_id is None and me in json.loads(ex.parties) and \
        me not in json.loads(ex.answers)
    own = [r for c in exchanges.commitments_of(session, ex)
           for r in (intents.own_by_uri(session, body, c.offer),
                     intents.own_by_uri(session, body, c.need)) if r is not None]
    return ours, {r.enterprise_id for r in own if r.enterprise_id}


def exchange_reasons(session: Session, urls: Urls, member: Member | None, body: LocalActor,
                     ex: Exchange) -> dict[str, Why]:
    ours, ids = _exchange_ours(session, urls, body, ex)
    if not ours:
        why: Why = Problem(409, "not-asked", "this exchange does not wait for this body's "
                           "answer") if ex.state == X.proposed else \
            _state(EXCHANGE, "agree", ex)
        return {"accept": why, "refuse": why}
    who = answerer(session, member, body, ids)
    return {"accept": _first(who, _state(EXCHANGE, "agree", ex)),
            "refuse": _first(who, _state(EXCHANGE, "refuse", ex))}


def left_to_deliver(session: Session, c: Commitment) -> Decimal:
    """What may still be recorded: committed, less delivered and less awaiting
    confirmation."""
    rows = session.exec(select(EconomicEvent.quantity).where(
        EconomicEvent.commitment == c.uri, EconomicEvent.state == E.recorded)).all()
    pending = sum((Decimal(q) for q in rows), Decimal(0))
    return Decimal(c.quantity) - Decimal(c.delivered) - pending


def commitment_reasons(session: Session, urls: Urls, member: Member | None,
                       body: LocalActor, c: Commitment) -> dict[str, Why]:
    me = urls.actor(body.handle)
    if me not in (c.provider, c.receiver):
        gone: Why = Problem(403, "not-a-party",
                            "only the two sides of a commitment may act on it")
        return {"deliver": gone, "cancel": gone}
    agent = c.provider_agent if me == c.provider else c.receiver_agent
    who = answerer(session, member, body, _agent_ids(session, urls, body, agent))
    deliver: Why
    if me != c.provider:
        deliver = Problem(403, "not-provider", "only the body that gives records a delivery")
    elif c.state not in DELIVERABLE:
        deliver = Problem(409, "not-open", f"this commitment is {c.state}")
    elif left_to_deliver(session, c) <= 0:
        deliver = Problem(409, "nothing-left", "everything committed is delivered or "
                          "awaits confirmation")
    else:
        deliver = who
    return {"deliver": _first(who, deliver), "cancel": _first(who, _state(COMMITMENT,
                                                                          "cancel", c))}


def event_reasons(session: Session, urls: Urls, member: Member | None, body: LocalActor,
                  ev: EconomicEvent) -> dict[str, Why]:
    if ev.receiver != urls.actor(body.handle):
        no: Why = Problem(403, "not-receiver",
                          "only the body that receives confirms a delivery")
        return {"confirm": no, "dispute": no}
    c = session.exec(select(Commitment).where(Commitment.uri == ev.commitment)).first()
    ids = _agent_ids(session, urls, body, c.receiver_agent) if c is not None else set()
    who = answerer(session, member, body, ids)
    return {"confirm": _first(who, _state(EVENT, "confirm", ev)),
            "dispute": _first(who, _state(EVENT, "dispute", ev))}


def plan_reasons(session: Session, urls: Urls, member: Member | None, body: LocalActor,
                 plan: JointPlan) -> dict[str, Why]:
    """A plan is approved or refused by each body's own decision (a proposal), never
    by a click: nobody has a direct action on it."""
    return {}


def body_reasons(session: Session, urls: Urls, member: Member | None,
                 body: LocalActor) -> dict[str, Why]:
    """The economy's actions on the body itself: publishing (for the body, or for an
    enterprise whose council one sits on), registering an enterprise, drafting a
    joint plan (coordinators)."""
    coord = coordinator(session, member, body)
    publish: Why = coord
    if coord is not None and member is not None and publishable_for(session, member, body):
        publish = None
    return {"publish": publish, "add_enterprise": coord, "draft_plan": coord}


def councils(session: Session, member: Member, body: LocalActor) -> list[Enterprise]:
    return list(session.exec(select(Enterprise).join(
        EnterpriseWorker, col(EnterpriseWorker.enterprise_id) == col(Enterprise.id)).where(
        Enterprise.body_id == body.id, EnterpriseWorker.member_id == member.id,
        EnterpriseWorker.council).order_by(Enterprise.slug)).all())


def publishable_for(session: Session, member: Member | None, body: LocalActor) -> list[str]:
    """For whom `member` may publish: "" for the body itself (coordinators), and the
    slugs of the enterprises it answers for."""
    from node.economy import enterprises

    if member is None:
        return []
    roles = roles_in(session, member, body)
    if "facilitator" in roles:
        return [""] + [e.slug for e in enterprises.listed(session, body)]
    if "member" not in roles:
        return []
    return [e.slug for e in councils(session, member, body)]


REASONS: dict[type, Any] = {Intent: intent_reasons, Exchange: exchange_reasons,
                            Commitment: commitment_reasons, EconomicEvent: event_reasons,
                            JointPlan: plan_reasons, LocalActor: body_reasons}


def reasons(session: Session, urls: Urls, member: Member | None, body: LocalActor,
            obj: Any) -> dict[str, Why]:
    fn = REASONS[type(obj)]
    if isinstance(obj, LocalActor):
        return dict(fn(session, urls, member, body))
    return dict(fn(session, urls, member, body, obj))


def available_actions(session: Session, urls: Urls, member: Member | None, body: LocalActor,
                      obj: Any) -> list[str]:
    """What `member`, acting for `body`, may do to `obj` now."""
    return [a for a, why in reasons(session, urls, member, body, obj).items() if why is None]


def require(session: Session, urls: Urls, member: Member | None, body: LocalActor, obj: Any,
            action: str) -> None:
    """Refuse, with the reason `available_actions` has for not offering it, an action
    that is not offered."""
    why = reasons(session, urls, member, body, obj).get(action)
    if why is not None:
        raise why


def waiting_answers(session: Session, urls: Urls, member: Member | None,
                    body: LocalActor) -> list[Exchange]:
    """Exchanges that wait for `member`'s answer for `body` (for a "pending for me"
    list): those on which it is offered "accept"."""
    from node.economy import exchanges

    here = urls.actor(body.handle)
    proposed = [e for e in exchanges.of_body(session, here, body, limit=200)
                if e.state == ExchangeState.proposed]
    return [e for e in proposed
            if "accept" in available_actions(session, urls, member, body, e)]
