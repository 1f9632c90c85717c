"""The economy's things as the JSON API and the pages show them, each with the
`actions` the asking member may take on it now (node.economy.states decides)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from node.activitypub.urls import Urls
from node.economy import exchanges, handovers, intents, plans, states
from node.economy.catalogue import Catalogue
from node.models import Commitment, EconomicEvent, Exchange, Intent, JointPlan, LocalActor, Member


class Viewer:
    """Who is looking (maybe nobody logged in), for which body."""

    def __init__(self, session: Session, urls: Urls, member: Member | None,
                 body: LocalActor) -> None:
        self.session, self.urls, self.member, self.body = session, urls, member, body

    def actions(self, obj: Any) -> list[str]:
        return states.available_actions(self.session, self.urls, self.member, self.body, obj)

    def intent(self, row: Intent, cat: Catalogue, lang: str = "es") -> dict[str, Any]:
        return {**intents.view(row, cat, lang), "actions": self.actions(row)}

    def commitment(self, c: Commitment) -> dict[str, Any]:
        return {**exchanges.commitment_view(c), "actions": self.actions(c)}

    def exchange(self, ex: Exchange) -> dict[str, Any]:
        v = exchanges.view(self.session, ex)
        v["commitments"] = [self.commitment(c)
                            for c in exchanges.commitments_of(self.session, ex)]
        v["actions"] = self.actions(ex)
        return v

    def event(self, ev: EconomicEvent) -> dict[str, Any]:
        return {**handovers.view(ev), "actions": self.actions(ev)}

    def plan(self, row: JointPlan, recorded: dict[str, Commitment]) -> dict[str, Any]:
        v = plans.view(row, recorded)
        for c in v["commitments"]:
            got = recorded.get(c["uri"])
            c["actions"] = self.actions(got) if got is not None else []
        v["actions"] = self.actions(row)
        return v
