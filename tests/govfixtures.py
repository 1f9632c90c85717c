"""Building a commune with members and roles for governance tests."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlmodel import Session

from node.config import Settings
from node.context import build_context
from node.governance import bodies, members, proposals
from node.governance.statute import Rule, Statute
from node.models import LocalActor, Member
from tests.helpers import stored


@dataclass
class Commune:
    ctx: Any
    assembly: LocalActor
    council: LocalActor
    people: dict[str, Member]

    def session(self) -> Session:
        return Session(self.ctx.engine, expire_on_commit=False)

    def private_proposal(self) -> int:
        """A proposal of m0's in a private council of the assembly: the id an outsider
        may guess, in a body they must not learn of."""
        with self.session() as s:
            hidden = bodies.create_body(self.ctx.tx(s), stored(s, LocalActor, self.assembly.id),
                                        "consejo_reservado", "Consejo reservado",
                                        "communal_council", public=False)
            m0 = stored(s, Member, self.people["m0"].id)
            members.grant(self.ctx.tx(s), m0, hidden, "member")
            pid = proposals.create(self.ctx.tx(s, m0), hidden, "Secreta", "texto").id
            s.commit()
        assert pid is not None
        return pid


def build_commune(settings: Settings, n_members: int = 4, rule: Rule = Rule.majority,
                  quorum: Fraction = Fraction(1, 2)) -> Commune:
    ctx = build_context(settings)
    with Session(ctx.engine, expire_on_commit=False) as s:
        assembly = bodies.body_by_handle(s, ctx.primary.handle)
        bodies.set_statute(ctx.tx(s), assembly, Statute(rule=rule, quorum=quorum))
        council = bodies.create_body(ctx.tx(s), assembly, "consejo_salud", "Consejo de salud",
                                     "sectoral_council", Statute(rule=rule, quorum=quorum))
        people: dict[str, Member] = {}
        people["facil"] = members.create_member(ctx.tx(s), "facil", "contraseña-larga",
                                                "Facilitadora", family="f0")
        members.grant(ctx.tx(s), people["facil"], assembly, "facilitator")
        for i in range(n_members):
            m = members.create_member(ctx.tx(s), f"m{i}", "contraseña-larga", f"Miembro {i}",
                                      family=f"f{i // 2}")
            members.grant(ctx.tx(s), m, assembly, "member")
            people[f"m{i}"] = m
        people["other"] = members.create_member(ctx.tx(s), "other", "contraseña-larga",
                                                "De otro cuerpo")
        members.grant(ctx.tx(s), people["other"], council, "member")
        people["outsider"] = members.create_member(ctx.tx(s), "outsider", "contraseña-larga",
                                                   "Nadie")
        s.commit()
    ctx.reload_actors()
    return Commune(ctx, assembly, council, people)
