"""A federation's vote on a matter: closing it under the federation's statute,
publishing the decision with every signed vote and mandate behind it, and each
node recording the decision as it travels back down (member federations pass it
on to their own members)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from node.activitypub.urls import AS_PUBLIC
from node.events import kinds
from node.federations import matters, objects, told
from node.federations.mandate_states import MANDATE, MANDATED_VOTE, V
from node.federations.membership import members_of
from node.governance.decisions import result_record
from node.governance.statute import statute_of_vote
from node.governance.tally import Counts, Electorate, Result, tally
from node.models import Decision, FederationLink, LocalActor, Proposal, ProposalVersion
from node.models.base import aware, utcnow
from node.models.matters import Mandate, MandatedVote
from node.outbox.publish import new_uid, publish
from node.tx import Tx

DECISION = "Decision"
OUTCOME_ES = {"adopted": "aprobada", "rejected": "rechazada", "no_quorum": "sin quórum"}


def _weights(session: Session, statute_weighting: str, federation: LocalActor
             ) -> dict[str, int]:
    """Every accepted member body and its weight: 1, or under `weighting: families` the
    families its federation accepted (a body that never declared any counts once). Never
    a number the body states in a mandate: that is what it says of itself."""
    links = session.exec(select(FederationLink).where(
        FederationLink.body_id == federation.id, FederationLink.direction == "has_member",
        FederationLink.state == "accepted")).all()
    if statute_weighting != "families":
        return {x.remote_uri: 1 for x in links}
    return {x.remote_uri: max(x.families, 1) for x in links}


def _holds(mandate: Mandate | None, proposal: Proposal) -> bool:
    """A mandate holds for the count if it is still live (not recalled, superseded or
    lapsed by an amendment) and had not expired when the vote closed."""
    if mandate is None or mandate.state != "live":
        return False
    if mandate.expires_at is None:
        return True
    closing = aware(proposal.closes_at) if proposal.closes_at is not None else utcnow()
    return aware(mandate.expires_at) >= closing


def count(session: Session, proposal: Proposal, federation: LocalActor
          ) -> tuple[Result, list[MandatedVote], dict[str, int]]:
    """The rule, at closing:
    - the electorate (the base of the quorum) is every member body whose membership the
      federation accepted, each weighing 1 or its accepted families (never a number it
      claimed), less the bodies whose every mandate on this matter was recalled or has
      lapsed or expired: they leave it until they mandate again;
    - a vote counts only if it is still `counted` (not withdrawn by a recall, a newer
      mandate or a lapse), is on the current version, comes from an accepted member body,
      and its mandate holds (`_holds`); it weighs its body's accepted weight."""
    statute = statute_of_vote(proposal, federation)
    weights = _weights(session, statute.weighting, federation)
    mandates = {m.uri: m for m in session.exec(select(Mandate).where(
        Mandate.matter == proposal.matter)).all()}
    given: dict[str, list[Mandate]] = {}
    for m in mandates.values():
        given.setdefault(m.member_body, []).append(m)
    weights = {b: w for b, w in weights.items()
               if b not in given or any(_holds(m, proposal) for m in given[b])}
    votes = [v for v in session.exec(select(MandatedVote).where(
        MandatedVote.proposal_id == proposal.id, MandatedVote.state == "counted")
        .order_by(col(MandatedVote.id))).all()
        if v.member_body in weights and v.version == proposal.current_version
        and _holds(mandates.get(v.mandate_uri), proposal)
        and mandates[v.mandate_uri].member_body == v.member_body]
    tot = {c: sum(weights[v.member_body] for v in votes if v.choice == c)
           for c in objects.CHOICES}
    weight = sum(weights.values())
    counts = Counts(yes=tot["for"], no=tot["against"], abstain=tot["abstain"],
                    families=sum(weights[v.member_body] for v in votes))
    return tally(statute, counts, Electorate(members=weight, families=weight)), votes, weights


def close(tx: Tx, proposal: Proposal) -> Decision:
    """Close a federation's vote by mandates (the caller checked it is due), as the
    node's own processing."""
    session = tx.session
    federation = session.get(LocalActor, proposal.body_id)
    assert federation is not None
    statute = statute_of_vote(proposal, federation)
    result, votes, weights = count(session, proposal, federation)
    ballots = [{"member": v.member_body, "choice": v.choice, "weight": weights[v.member_body],
                "mandate": v.mandate_uri, "vote": v.uri, "spokesperson": v.spokesperson}
               for v in votes]
    record = {**result_record(result, statute.to_dict(), proposal.current_version, None,
                              ballots),
              "member_bodies": sorted(weights), "matter": proposal.matter}
    decision = Decision(proposal_id=proposal.id or 0, body_id=federation.id or 0,
                        version=proposal.current_version, outcome=result.outcome.value,
                        record=json.dumps(record, ensure_ascii=False), method="mandates",
                        decided_at=tx.now())
    session.add_all([decision, proposal])
    session.flush()
    tx.acting_as(None).audit(
        "decision.recorded", f"proposal:{proposal.id}",
        {"decision": decision.id, "outcome": decision.outcome, "method": "mandates"})
    kinds.decision_recorded(tx, federation, proposal, decision)
    if not proposal.answers_to:
        # The deciding level: the decision is final and goes down to every member.
        proposal.final_outcome = result.outcome.value
        _publish(tx, federation, proposal, decision, result, votes, weights)
    return decision


def _publish(tx: Tx, federation: LocalActor, proposal: Proposal, decision: Decision,
             result: Result, votes: list[MandatedVote], weights: dict[str, int]) -> None:
    from node.governance.proposals import version

    session, urls = tx.session, tx.urls
    v = version(session, proposal)
    c = result.counts
    content = (f"<p><strong>{html.escape(v.title)}</strong>: "
               f"{OUTCOME_ES[result.outcome.value]}.</p>"
               f"<p>A favor {c.yes} · en contra {c.no} · abstenciones {c.abstain} · "
               f"participación {c.participants} de {result.electorate.members}</p>")
    mandates = sorted({vote.mandate_uri for vote in votes})
    handle = federation.handle
    note = matters.sign(urls, federation, decision_note(
        urls.obj(f"decision-{new_uid()}"), urls.actor(handle), v.title, content,
        proposal.matter, proposal.current_version, result,
        statute_of_vote(proposal, federation).to_dict(),
        weights, _amendment_chain(session, urls.base, proposal),
        [_signed(session, vote.uri) for vote in votes], [_signed(session, m) for m in mandates],
        urls.followers(handle), matters.now_stamp(tx.now())))
    activity: dict[str, Any] = {
        "@context": matters.context(urls), "id": urls.activity(new_uid()), "type": "Create",
        "actor": urls.actor(handle), "object": note, "to": note["to"], "cc": note["cc"]}
    item = publish(tx, federation, activity, inboxes=matters.member_inboxes(session, federation))
    matters.keep(session, note, DECISION, urls.actor(handle), proposal.matter)
    matters.keep(session, json.loads(item.body), "Create", urls.actor(handle), proposal.matter)
    decision.activity_id = activity["id"]
    proposal.final_decision = note["id"]
    session.add_all([decision, proposal])


def decision_note(oid: str, author: str, title: str, content: str, matter: str, version: int,
                  result: Result, statute: dict[str, Any], weights: dict[str, int],
                  amendments: list[dict[str, Any]], votes: list[dict[str, Any]],
                  mandates: list[dict[str, Any]], followers: str, published: str
                  ) -> dict[str, Any]:
    """The federated decision as published: enough to recompute it from its signed
    parts (see verification.py)."""
    c = result.counts
    return {
        "id": oid, "type": "Note", "attributedTo": author, "name": title, "content": content,
        "contentMap": {"es": content}, "published": published, "matter": matter,
        "proposalVersion": version, "outcome": result.outcome.value, "votesFor": c.yes,
        "votesAgainst": c.no, "abstentions": c.abstain, "blocks": c.block, "statute": statute,
        "memberBodies": [{"id": m, "weight": w} for m, w in sorted(weights.items())],
        "amendments": amendments, "mandatedVotes": votes, "mandates": mandates,
        "to": [AS_PUBLIC], "cc": [followers],
    }


def _signed(session: Session, uri: str) -> dict[str, Any]:
    doc = matters.kept(session, uri)
    if doc is None:
        raise RuntimeError(f"signed object {uri} is missing")
    return doc


def _amendment_chain(session: Session, base: str, proposal: Proposal
                     ) -> list[dict[str, Any]]:
    rows = session.exec(select(ProposalVersion).where(
        ProposalVersion.proposal_id == proposal.id).order_by(col(ProposalVersion.number))).all()
    return [{"id": objects.amendment_uri(base, int(r.origin.split(":", 1)[1])),
             "proposalVersion": r.number}
            for r in rows if r.origin.startswith("amendment:")]


def receive(tx: Tx, body: LocalActor, activity: dict[str, Any], note: dict[str, Any],
            relayed_by: str) -> bool:
    """A federation's final decision reached this body: record it on our rows for the
    matter, and pass it on if we are a federation ourselves. Recorded as the act of the
    decision's author."""
    session = tx.session
    matter = note.get("matter")
    if not isinstance(matter, str) or not matter:
        return False
    author = str(note.get("attributedTo", ""))
    if matters.is_kept(session, str(note["id"])):
        return False  # already recorded
    matters.keep(session, note, DECISION, author, matter, relayed_by)
    matters.keep(session, activity, "Create", author, matter, relayed_by)
    rows = matters.rows_of(session, body.id, matter)
    for p in rows:
        p.final_outcome = str(note.get("outcome", ""))[:16]
        p.final_decision = str(note["id"])
        p.updated_at = tx.now()
        session.add(p)
    if members_of(session, body):
        matters.announce(tx, body, activity)
    told.decision_arrived(tx, body, list(rows), note, author)
    tx.acting_as(f"remote:{author}").audit(
        "decision.received", f"body:{body.handle}",
        {"decision": note["id"], "matter": matter, "outcome": note.get("outcome"),
         "via": relayed_by})
    return True


@dataclass(frozen=True)
class Final:
    """The federation's decision as a member body reads it: the outcome, the version of
    the matter it decided and our row holding that version's text (None if none here)."""

    outcome: str
    version: int | None
    row: int | None


def final(session: Session, proposal: Proposal) -> Final | None:
    """The decision the federation sent down on `proposal`'s matter, if it came. Its
    version is read from the signed decision kept as received (`proposalVersion`)."""
    if not proposal.final_outcome:
        return None
    note = matters.kept(session, proposal.final_decision) if proposal.final_decision else None
    number = note.get("proposalVersion") if note else None
    decided = number if isinstance(number, int) and not isinstance(number, bool) and \
        number > 0 else None
    row = next((p.id for p in matters.rows_of(session, proposal.body_id, proposal.matter)
                if decided is not None and p.current_version == decided), None)
    return Final(proposal.final_outcome, decided, row)


def on_new_version(tx: Tx, federation: LocalActor, proposal: Proposal,
                   amendment_uri: str) -> None:
    """An amendment adopted at the federation: mandates that do not allow it lapse (their
    votes are withdrawn), the others carry over, and the new text goes down again. The
    node records it."""
    session, urls = tx.session, tx.urls
    for m in session.exec(select(Mandate).where(
            Mandate.matter == proposal.matter, Mandate.state == "live",
            Mandate.federation == urls.actor(federation.handle))).all():
        if objects.carries_over(m.position, json.loads(m.amendments), amendment_uri):
            m.version = proposal.current_version
        else:
            MANDATE.move(session, m, "lapse")
            for mv in session.exec(select(MandatedVote).where(
                    MandatedVote.mandate_uri == m.uri, MandatedVote.state == V.counted)
                    ).all():
                MANDATED_VOTE.move(session, mv, "withdraw")
        m.updated_at = tx.now()
        session.add(m)
    tx.acting_as(None).audit("matter.amended", f"proposal:{proposal.id}",
                             {"amendment": amendment_uri, "version": proposal.current_version})
    from node.governance.proposals import version

    v = version(session, proposal)
    original = matters.kept(session, proposal.matter)
    affects = json.loads(proposal.affects)
    author = str(original.get("attributedTo")) if original else urls.actor(federation.handle)
    # The federation now speaks for the text: it signs the new version itself.
    matters.tell_members(tx, federation, objects.proposal_object(
        proposal.matter, author, v.title, v.text, affects, v.number, matters.now_stamp(tx.now()),
        amendment_uri), "Update")
