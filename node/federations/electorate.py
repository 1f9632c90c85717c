"""Member bodies as the electorate of a federation's proposal: governance's strategy
(node/governance/electorates.py) carried out by mandates and mandated votes."""

from __future__ import annotations

from node.federations import amendment_news, objects, outcomes, vote_news
from node.governance import electorates
from node.models import Amendment, Decision, LocalActor, Proposal
from node.tx import Tx


class ByMandates:
    def close(self, tx: Tx, proposal: Proposal) -> Decision:
        return outcomes.close(tx, proposal)

    def on_new_version(self, tx: Tx, body: LocalActor, proposal: Proposal,
                       amendment: Amendment) -> None:
        outcomes.on_new_version(tx, body, proposal,
                                objects.amendment_uri(tx.urls.base, amendment.id or 0))

    def on_vote_opened(self, tx: Tx, body: LocalActor, proposal: Proposal) -> None:
        vote_news.announce_open(tx, body, proposal)

    def on_amendment(self, tx: Tx, body: LocalActor, proposal: Proposal,
                     amendment: Amendment) -> None:
        amendment_news.announce(tx, body, proposal, amendment)


electorates.register_member_bodies(ByMandates())
