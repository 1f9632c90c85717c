"""Federated matters in the pages: on a proposal, where the matter stands (sent up,
refused, decided by which federation, the final outcome), the mandates and who
carries them, the votes a federation received; forms to send a matter up, issue or
recall a mandate and vote under it; and a federation's page of its members and
their live mandates. The rules live in node.federations."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.ids import RowId
from node.api.v1.matters_io import mandate_view, mandated_vote_view
from node.errors import Problem
from node.federations import (
    amendment_news,
    escalation,
    mandates,
    matters,
    objects,
    outcomes,
    standing,
    vote_news,
)
from node.federations.mandate_states import available_actions
from node.federations.names import names, spokesperson_names
from node.governance import proposals
from node.governance.bodies import electorate
from node.governance.proposal_actions import stage
from node.models import Amendment, Decision, FederationLink, Member, Proposal
from node.models.matters import Mandate, MandatedVote
from node.web.actions import (
    member_of,
    position_labels,
    proposal_action,
    run_action,
    see_other,
)
from node.web.i18n import translator
from node.web.numbers import whole
from node.web.pictures.matter import matter_standing
from node.web.render import language
from node.web.session import form

router = APIRouter(include_in_schema=False)


def matter_context(s: Session, request: Any, me: Member | None, p: Proposal,
                   roles: set[str]) -> dict[str, Any]:
    """What the proposal page shows and offers about the matter's federated side."""
    urls = request.app.state.ctx.urls
    facil, author = "facilitator" in roles, me is not None and p.author_id == me.id
    can_send = p.author_id is not None and p.state == "deliberation" and \
        p.escalation not in ("sent", "taken") and (facil or author) and \
        bool(p.body_id and s.exec(select(FederationLink.id).where(
            FederationLink.body_id == p.body_id, FederationLink.direction == "member_of",
            FederationLink.state == "accepted")).first())
    _ = translator(language(request, me))
    labels: dict[str, Any] = {
        "outcome_names": {"adopted": _("Aprobada"), "rejected": _("Rechazada"),
                          "no_quorum": _("Sin quórum")},
        "positions": position_labels(_),
        "mandate_states": {"live": _("vigente"), "recalled": _("revocado"),
                           "lapsed": _("caducado"), "superseded": _("reemplazado"),
                           "refused": _("rechazado por la federación")},
        "vote_choices": {"for": _("A favor"), "against": _("En contra"),
                         "abstain": _("Abstención")},
        "vote_states": {"counted": _("contado"), "withdrawn": _("retirado"),
                        "sent": _("enviado"), "refused": _("rechazado por la federación")},
        "refusals": refusal_labels(_),
        "allowed_positions": {k: sorted(v) for k, v in mandates.POSITIONS_FOR.items()},
    }
    # The bodies it affects beyond its own, by name (chosen on the new-proposal form).
    own = urls.actor(proposals.body_of(s, p).handle)
    affected = [u for u in json.loads(p.affects or "[]") if isinstance(u, str) and u != own]
    labels["affects"] = list(names(s, urls, affected).values()) if affected else []
    if not p.matter:
        # Sent up but not yet reached (federations/retries.py tries again): say so,
        # or the author sees nothing and presses again.
        # The technical reason stays in the API (`escalation_note`, in English).
        waiting = {"escalation": "pending"} if p.escalation == "pending" else None
        return {"fed": waiting, "mandates": [], "my_mandates": [], "mandated_votes": [],
                "matter_picture": None,
                "can_mandate": False, "can_send_up": can_send and waiting is None,
                "fed_amendments": [], "amendment_titles": {},
                "final": None, "other_versions": [], "names": {}, **labels}
    rows = s.exec(select(Mandate).where(Mandate.matter == p.matter)
                  .order_by(col(Mandate.id))).all()
    now = request.app.state.ctx.clock.now()
    views = [mandate_view(m, available_actions(s, urls, me, m, now)) for m in rows]
    mine = [m for m in views if any(a.startswith("vote_") for a in m["actions"])]
    decided = s.exec(select(Decision).where(Decision.proposal_id == p.id)).first()
    people = sorted(electorate(s, proposals.body_of(s, p))[1],
                    key=lambda m: m.display_name) if facil else []
    votes = [mandated_vote_view(v) for v in s.exec(select(MandatedVote).where(
        MandatedVote.proposal_id == p.id).order_by(col(MandatedVote.id)))]
    mentioned = [p.escalated_to, p.answers_to]
    for m in views:
        mentioned += [m["member_body"], m["federation"], *m["spokespersons"]]
    for v in votes:
        mentioned += [v["member_body"], v["spokesperson"]]
    tree = standing.on_tree(s, urls, p)
    if tree is not None:
        mentioned += [tree.federation, *[m.body for m in tree.members]]
    known = names(s, urls, [u for u in mentioned if u],
                  spokesperson_names(s, [m.uri for m in rows]))
    heard = amendment_news.of_matter(s, proposals.body_of(s, p), p.matter)
    can_mandate = mandates.issue_refusal(s, me, p) is None
    # The body's other rows of the matter (one per version the federation sent).
    others = [{"id": r.id, "version": r.current_version, "stage": stage(r)}
              for r in matters.rows_of(s, p.body_id, p.matter) if r.id != p.id]
    return {
        "fed": {"matter": p.matter, "electorate": p.electorate, "answers_to": p.answers_to,
                "escalation": p.escalation, "escalated_to": p.escalated_to,
                "note": p.escalation_note, "final_outcome": p.final_outcome,
                "final_decision": p.final_decision},
        "other_versions": others, "stage_words": stage_words(_),
        "final": outcomes.final(s, p),
        "mandates": views, "my_mandates": mine, "mandated_votes": votes,
        "can_mandate": can_mandate,
        # Spokespersons vote at the federation only while its vote is open there.
        "fed_vote_open": vote_news.is_open(p, now),
        # The federation's amendments, to pick those an approval depends on.
        "fed_amendments": amendment_news.pickable(heard, p.current_version)
        if can_mandate else [],
        "amendment_titles": {a.uri: a.title for a in heard} | {
            objects.amendment_uri(urls.base, a.id or 0): a.title for a in s.exec(
                select(Amendment).where(Amendment.proposal_id == p.id))},
        "decided_outcome": decided.outcome if decided else "",
        "people": [(m.id, m.display_name) for m in people],
        "can_send_up": can_send,
        "names": known,
        "matter_picture": matter_standing(tree, known, labels["positions"],
                                          labels["vote_choices"], _),
        **labels,
    }


def stage_words(_: Any) -> dict[str, str]:
    """Where a row of a matter stands, in a few words inside a sentence."""
    return {"draft": _("borrador"), "deliberation": _("en deliberación"),
            "vote": _("en votación"), "decided": _("decidida"),
            "awaiting_federation": _("posición decidida, esperando a la federación"),
            "carried_out": _("ejecutada"), "evaluated": _("evaluada"),
            "withdrawn": _("retirada")}


def refusal_labels(_: Any) -> dict[str, str]:
    """Why a federation refused a vote or a mandate, by its stable code."""
    return {
        "vote-closed": _("La federación no tenía abierta la votación de este asunto (todavía "
                         "no la abría, o ya la cerró). Puede enviar el voto de nuevo cuando "
                         "esté abierta."),
        "wrong-version": _("El asunto cambió de versión en la federación: la instancia debe "
                           "decidir de nuevo y dar otro mandato."),
        "matter-decided": _("La federación ya había decidido este asunto; no toma más "
                            "mandatos ni votos en él."),
        "mandate-not-live": _("La federación no tiene este mandato como vigente."),
        "not-spokesperson": _("Quien votó no figura como vocería de este mandato."),
        "outside-mandate": _("El voto no cabe dentro del mandato."),
        "not-member": _("La instancia no figura como miembro de esa federación."),
        "unknown-matter": _("La federación no tiene este asunto."),
        "no-mandate": _("La federación no recibió el mandato de este voto."),
        "replayed": _("Ese voto ya había llegado a la federación."),
    }


def _back_to(pid: int) -> str:
    return f"/p/{pid}"


@router.post("/p/{pid}/send-up")
async def send_up(request: Request, pid: RowId) -> Response:
    # Not run_action: sending up reaches the network, outside any one transaction.
    me = await member_of(request)
    try:
        await form(request)
        if me is None:
            return see_other(f"/login?next=/p/{pid}")
        result = await escalation.send_up(request.app.state.ctx, me, pid)
    except Problem as exc:
        return await run_action(request, _back_to(pid), _raise(exc))
    _ = translator(language(request, me))
    # Never silence: where it went, or why it stays here.
    said = _("No se envió: esta propuesta solo afecta a esta instancia, así que se decide "
             "aquí. Si afecta a otras, nómbrelas en una propuesta nueva.")
    if result["sent_to"]:
        said = _("Enviada a %(name)s.") % {"name": await asyncio.to_thread(
            _name, request, str(result["sent_to"]))}
    return await run_action(request, _back_to(pid), lambda s, me, d: (_back_to(pid), said))


def _name(request: Request, uri: str) -> str:
    with Session(request.app.state.ctx.engine) as s:
        return names(s, request.app.state.ctx.urls, [uri])[uri]


def _raise(exc: Problem) -> Any:
    def act(s: Session, me: Member, data: dict[str, str]) -> str:
        raise exc

    return act


@router.post("/p/{pid}/mandate")
async def issue(request: Request, pid: RowId) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        speakers = [n for x in d.get("spokesperson", "").split(",") if (n := whole(x)) is not None]
        # Picked from the federation's amendments (one box each), or typed as URIs where
        # the node heard of none.
        named = [v for k, v in sorted(d.items()) if k.startswith("amendment-") and v] + \
            [x.strip() for x in d.get("amendments", "").split() if x.strip()]
        mandates.issue(request.app.state.ctx.tx(s, me), p, d.get("position", ""), speakers,
                       named, d.get("limits", ""))

    return await run_action(request, _back_to(pid), proposal_action(pid, fn),
                            done="Mandato enviado a la federación.")


@router.post("/p/{pid}/mandates/{mid}/recall")
async def recall(request: Request, pid: RowId, mid: RowId) -> Response:
    return await run_action(request, _back_to(pid), proposal_action(
        pid, lambda s, me, p, d: mandates.recall(request.app.state.ctx.tx(s, me), mid,
                                                 d.get("reason", ""))),
        done="Mandato revocado: la federación retira los votos dados con él.")


@router.post("/p/{pid}/mandates/{mid}/vote")
async def vote(request: Request, pid: RowId, mid: RowId) -> Response:
    return await run_action(request, _back_to(pid), proposal_action(
        pid, lambda s, me, p, d: mandates.cast(request.app.state.ctx.tx(s, me), mid,
                                               d.get("choice", ""))),
        done="Voto enviado a la federación; aquí se verá cuando lo cuente.")
