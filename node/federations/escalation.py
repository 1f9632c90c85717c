"""What the HTTP layer calls for federated matters when network access is needed
(learning the federation graph, loading keys): the async steps around the
transactional services of matters.py and verification.py."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlmodel import Session, select

from node.activitypub import keys
from node.activitypub.directory import KeyLookupFailed, KeyUnavailable
from node.activitypub.resolve import resolve_actor
from node.context import NodeContext
from node.errors import Problem, conflict, not_found
from node.federations import matters, membership, routing, verification
from node.federations.levels import Route
from node.federations.matter_states import ESCALATION, Escalation
from node.governance.authz import can_read, require_facilitator, require_member
from node.models import Decision, LocalActor, Member, Proposal
from node.models.matters import SignedObject

log = logging.getLogger("comuna.federations")


def _load(ctx: NodeContext, proposal_id: int) -> tuple[Proposal, LocalActor]:
    with Session(ctx.engine) as s:
        p = s.get(Proposal, proposal_id)
        body = s.get(LocalActor, p.body_id) if p else None
    if p is None or body is None:
        raise not_found("proposal")
    return p, body


def _may_send_up(s: Session, member: Member, p: Proposal, body: LocalActor) -> None:
    """Only the author or a facilitator sends a matter up, and never a draft: a draft's
    text is private to its author until deliberation opens, so it must not leave the
    node, nor does a withdrawn one (a draft its author gave up). Who may act is checked
    first, so outsiders do not learn a proposal's state; and whether the body may be
    seen before that, so a private body's proposals look missing, as everywhere else."""
    if not can_read(s, member, body):
        raise not_found("proposal")
    roles = require_member(s, member, body)
    if p.author_id != member.id and "facilitator" not in roles:
        raise Problem(403, "forbidden", "the author or a facilitator sends a matter up")
    if p.state == "draft":
        raise conflict("proposal-is-draft",
                       "a draft stays on this node; open deliberation before sending it up")
    if p.state == "withdrawn":
        raise conflict("proposal-withdrawn", "a withdrawn proposal goes no further")


def _checked(ctx: NodeContext, member: Member, proposal_id: int
             ) -> tuple[Proposal, LocalActor]:
    p, body = _load(ctx, proposal_id)
    with Session(ctx.engine) as s:
        _may_send_up(s, member, p, body)
    return p, body


def _federation_inbox(ctx: NodeContext, body: LocalActor, federation: str) -> str:
    with Session(ctx.engine) as s:
        return matters.federation_inbox(s, body, federation)


async def send_up(ctx: NodeContext, member: Member, proposal_id: int,
                  federation: str | None = None, only_if_needed: bool = False
                  ) -> dict[str, Any]:
    """Send a proposal to the federation that should decide it (or to `federation`, if
    named: it will refuse it back down if it belongs lower). With `only_if_needed`, a
    matter that is this body's to decide stays here without complaint."""
    # The SQL runs in worker threads, never on the event loop; only the network waits
    # there. Refuse before reaching the network; checked again below on the fresh rows.
    p, body = await asyncio.to_thread(_checked, ctx, member, proposal_id)
    affects = json.loads(p.affects)
    try:
        plan = await routing.settled(ctx, body, affects,
                                     lambda x: x.route in (Route.local, Route.up))
    except KeyUnavailable as exc:
        raise Problem(503, "graph-unreachable",
                      f"the federation graph cannot be read now ({exc}); try again") from exc
    if federation is None:
        if plan.route == Route.local or (only_if_needed and plan.route != Route.up):
            return {"route": plan.route.value, "level": plan.level, "reason": plan.reason,
                    "sent_to": None}
        if plan.route != Route.up:
            raise conflict("no-route", plan.reason)
        target, inbox = plan.next_hop, plan.next_inbox
    else:
        target = federation
        inbox = await asyncio.to_thread(_federation_inbox, ctx, body, federation)

    def escalate() -> None:
        with ctx.unit(member) as tx:
            s = tx.session
            fresh_p, fresh_b = s.get(Proposal, proposal_id), s.get(LocalActor, body.id)
            assert fresh_p is not None and fresh_b is not None
            _may_send_up(s, member, fresh_p, fresh_b)
            matters.escalate(tx, fresh_b, fresh_p, target, inbox)
            tx.commit()

    await asyncio.to_thread(escalate)
    return {"route": plan.route.value, "level": plan.level, "reason": plan.reason,
            "sent_to": target}


PENDING = Escalation.pending  # could not be sent up yet: retries.py tries again
RETRY_TOPIC = "escalation"  # the wake-up of that retry loop


async def send_up_if_needed(ctx: NodeContext, member: Member, proposal_id: int) -> None:
    """After deliberation opens: a matter beyond this body goes up on its own. When the
    federation graph cannot be read now, the proposal is marked `pending` (shown to its
    members with the reason) and `retry_pending` sends it once the graph can be read."""
    p, _ = await asyncio.to_thread(_load, ctx, proposal_id)
    if p.author_id is None or p.escalation in ("sent", "taken") or p.answers_to:
        return
    try:
        result = await send_up(ctx, member, proposal_id, only_if_needed=True)
    except (Problem, KeyLookupFailed) as exc:
        transient = isinstance(exc, KeyUnavailable) or (
            isinstance(exc, Problem) and exc.status >= 500)
        log.warning("proposal %s not sent up%s: %s", proposal_id,
                    " yet" if transient else "", exc)
        if transient:
            await asyncio.to_thread(_mark_escalation, ctx, proposal_id, "wait", str(exc))
        return
    if result["route"] == Route.down.value and result["level"] is None:
        # Nobody covers every affected body, as far as our copies say. A copy may
        # predate a join whose `Update` is still on its way, so this is not final: the
        # members see the reason, and retries.py asks again with fresher copies.
        await asyncio.to_thread(_mark_escalation, ctx, proposal_id, "wait", result["reason"])
    elif result["sent_to"] is None and p.escalation == PENDING:
        # The graph is readable again and says the matter is this body's own.
        await asyncio.to_thread(_mark_escalation, ctx, proposal_id, "clear", "")


def _mark_escalation(ctx: NodeContext, proposal_id: int, action: str, note: str) -> None:
    with ctx.unit() as tx:
        p = tx.session.get(Proposal, proposal_id)
        if p is None or not ESCALATION.may(action, p.escalation):
            return  # moved on meanwhile: never undo a sent or settled escalation
        if action == "wait" and p.escalation != PENDING:
            # Newly left waiting: node/federations/retries.py tries it again soon.
            # (Only then: a retry that fails again must not wake its own loop.)
            tx.wake(RETRY_TOPIC)
        try:
            ESCALATION.move(tx.session, p, action, escalation_note=note[:2000])
        except Problem:
            return  # sent or settled between the read and the write: that wins
        tx.commit()


def _pending(ctx: NodeContext) -> list[tuple[int, int]]:
    with Session(ctx.engine) as s:
        rows = s.exec(select(Proposal.id, Proposal.author_id).where(
            Proposal.escalation == PENDING, Proposal.state == "deliberation")).all()
    return [(int(pid or 0), int(aid)) for pid, aid in rows if aid is not None]


async def retry_pending(ctx: NodeContext) -> int:
    """Try again every matter that could not be sent up when its deliberation opened;
    each on its own, so one that fails again does not hold the others back."""
    sent = 0
    for proposal_id, author_id in await asyncio.to_thread(_pending, ctx):
        author = await asyncio.to_thread(_member, ctx, author_id)
        if author is None:
            continue
        try:
            await send_up_if_needed(ctx, author, proposal_id)
        except Exception:  # the next tick tries again
            log.exception("sending proposal %s up failed", proposal_id)
            continue
        p, _ = await asyncio.to_thread(_load, ctx, proposal_id)
        sent += p.escalation == "sent"
    return sent


def _member(ctx: NodeContext, member_id: int) -> Member | None:
    with Session(ctx.engine, expire_on_commit=False) as s:
        m = s.get(Member, member_id)
        if m is not None:
            s.expunge(m)
        return m


async def key_lookup(ctx: NodeContext, method: str) -> ed25519.Ed25519PublicKey | None:
    actor = method.split("#", 1)[0]
    handle = ctx.urls.handle_of_actor(actor)
    if handle is not None:
        body = ctx.actors.get(handle)
        if body is None:
            return None
        key = keys.decode_multibase_public(body.ed25519_public_multibase)
        return key if isinstance(key, ed25519.Ed25519PublicKey) else None
    try:
        found = await ctx.directory.key_for(method)
    except KeyLookupFailed:
        return None
    return found.key if isinstance(found.key, ed25519.Ed25519PublicKey) else None


def decision_document(ctx: NodeContext, ref: str) -> dict[str, Any]:
    """A federated decision by its local id (the deciding federation's decision) or by
    the URI of its signed record (anywhere it was received)."""
    with Session(ctx.engine) as s:
        uri = ref
        if ref.isdigit():
            d = s.get(Decision, int(ref))
            p = s.get(Proposal, d.proposal_id) if d else None
            if p is None or not p.final_decision:
                raise not_found("federated decision")
            uri = p.final_decision
        row = s.exec(select(SignedObject).where(SignedObject.uri == uri)).first()
    if row is None:
        raise not_found("federated decision")
    doc: dict[str, Any] = json.loads(row.body)
    return doc


async def verify(ctx: NodeContext, ref: str) -> verification.Report:
    note = await asyncio.to_thread(decision_document, ctx, ref)
    return await verification.verify_decision(note, lambda m: key_lookup(ctx, m))


def _facilitated(ctx: NodeContext, member: Member, handle: str) -> None:
    with Session(ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == handle)).first()
        if body is None:
            raise not_found("body")
        require_facilitator(s, member, body)


def _ask(ctx: NodeContext, member: Member, handle: str, doc: dict[str, Any],
         families: int | None) -> int:
    with ctx.unit(member) as tx:
        body = tx.session.exec(select(LocalActor).where(LocalActor.handle == handle)).one()
        declared = membership.ask_to_join(tx, body, doc, families)
        tx.commit()
    return declared


async def join(ctx: NodeContext, member: Member, handle: str, address: str,
               families: int | None = None) -> tuple[str, int]:
    """A coordinator asks the federation at `address` (@handle@host or its actor URL) to
    admit body `handle`. Returns the federation's URI and the families declared."""
    # Who may ask is checked before any fetch: a stranger cannot make us reach out.
    await asyncio.to_thread(_facilitated, ctx, member, handle)
    address = address.strip()
    try:
        doc = await resolve_actor(ctx, address)
    except KeyUnavailable as exc:
        # A timeout or a 5xx says nothing about the address: ask again, not "unknown".
        raise Problem(503, "federation-unreachable", str(exc), field="federation",
                      retry_after=exc.retry_after) from exc
    except (ValueError, KeyLookupFailed) as exc:
        raise Problem(422, "unknown-federation", str(exc), field="federation") from exc
    if str(doc.get("id")) == ctx.urls.actor(handle):
        raise Problem(409, "self-join", "a body cannot join itself", field="federation")
    families = await asyncio.to_thread(_ask, ctx, member, handle, doc, families)
    return str(doc["id"]), families
