"""The page tour's commune (seed): a proposal in each state and one of all else pages show."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from node.economy import operations as economy
from node.economy.catalogue import shared
from node.governance import amendments, assemblies, decisions, members, proposals
from node.models import Proposal
from node.models.base import utcnow
from tests.govfixtures import build_commune

NS_KIND = shared().namespace


def seed(node: Any) -> dict[str, str]:
    """A commune with a proposal in each state, an amendment, a decision with its
    evaluation, an assembly, an offer and an unused invitation."""
    c = build_commune(node)
    ctx, body, people = c.ctx, c.assembly, c.people
    facil, m0, m1 = people["facil"], people["m0"], people["m1"]
    own = ctx.urls.actor(body.handle)
    with Session(ctx.engine, expire_on_commit=False) as s:
        draft = proposals.create(c.ctx.tx(s, m0), body, "Huerto escolar", "Sembrar en la escuela.",
                                 own_uri=own)
        gone = proposals.create(c.ctx.tx(s, m0), body, "Rifa", "Una rifa para la escuela.",
                                own_uri=own)
        proposals.withdraw(c.ctx.tx(s, m0), gone)
        talk = proposals.create(c.ctx.tx(s, m1), body, "Biblioteca", "Abrir una biblioteca.",
                                own_uri=own)
        proposals.open_deliberation(c.ctx.tx(s, m1), talk)
        proposals.comment(c.ctx.tx(s, m0), talk, "Buena idea.")
        amendments.amend(c.ctx.tx(s, m0), talk, "Biblioteca popular",
                         "Abrir una biblioteca popular.",
                         "Más claro.")
        voting = proposals.create(c.ctx.tx(s, m1), body, "Agua", "Reparar la tubería.", own_uri=own)
        proposals.open_deliberation(c.ctx.tx(s, m1), voting)
        proposals.open_vote(ctx.tx(s, facil), voting, utcnow() + timedelta(days=3))
        proposals.cast(c.ctx.tx(s, m0), voting, 1, "for", "")
        done = proposals.create(c.ctx.tx(s, m1), body, "Cancha", "Techar la cancha.", own_uri=own)
        proposals.open_deliberation(c.ctx.tx(s, m1), done)
        proposals.open_vote(ctx.tx(s, facil), done, utcnow() + timedelta(days=3))
        for who in ("m0", "m1", "m2", "m3"):
            proposals.cast(c.ctx.tx(s, people[who]), done, 1, "for", "")
        s.flush()
        s.execute(update(Proposal).where(col(Proposal.id) == done.id).values(
            closes_at=utcnow() - timedelta(minutes=1)))
        s.refresh(done)
        decision = decisions.close_vote(ctx.tx(s, facil), done)
        decisions.set_execution(c.ctx.tx(s, facil), decision, "carried_out", "Techada.")
        decisions.evaluate(c.ctx.tx(s, m0), decision, 4, "Quedó bien.")
        economy.publish(ctx.tx(s, facil), body, "offer", NS_KIND + "gas",
                        Decimal("12"), "kilogram", summary="Maíz de la cosecha")
        token = members.invite(c.ctx.tx(s, facil), body, "member")
        meeting, _ = decisions.record_meeting(ctx.tx(s, facil), body, utcnow(), "Casa comunal",
                                              9, 4, "1. Cancha", "Se habló de la cancha.", [])
        called = assemblies.schedule(ctx.tx(s, facil), body, assemblies.Plan(
            starts_at=utcnow() + timedelta(days=3), place="Casa comunal", agenda=(talk.id or 0,)),
            "America/Caracas")
        s.commit()
        ids = {"pid": str(voting.id), "token": token, "handle": body.handle,
               "mid": str(meeting.id), "assembly_id": str(called.id),
               "draft": str(draft.id), "talk": str(talk.id), "decided": str(done.id)}
    return ids
