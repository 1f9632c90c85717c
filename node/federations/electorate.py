"""Member bodies as the electorate of a federation's proposal: governance's strategy
(node/governance/electorates.py) carried out by mandates and mandated votes."""

from __future__ import annotations

from sqlmodel import Session

from node.activitypub.urls import Urls
from node.federations import objects, outcomes
from node.governance import electorates
from node.models import Amendment, Decision, LocalActor, Proposal
from node.tx import Tx


class ByMandates:
    def close(self, session: Session, urls: Urls, proposal: Proposal) -> Decision:
        return outcomes.close(Tx(session, urls), proposal)

    def on_new_version(self, session: Session, urls: Urls, body: LocalActor,
                       proposal: Proposal, amendment: Amendment) -> None:
        outcomes.on_new_version(Tx(session, urls), body, proposal,
                                objects.amendment_uri(urls.base, amendment.id or 0))


electorates.register_member_bodies(ByMandates())
