"""Mandates and the votes cast under them.

A member body turns its decision on a matter into a mandate (position, version,
spokespersons, expiry) and sends it to the federation; its spokespersons then
vote at the federation through their own node, which signs the vote as the
body. The federation counts a vote only if it lies within a live mandate of a
member body, for the exact version being voted, cast by one of that mandate's
spokespersons. Recalling a mandate withdraws any vote cast under it that is not
yet final.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from node.activitypub.urls import Urls
from node.errors import Problem, conflict, invalid, not_found
from node.federations import matters, objects, told
from node.federations.mandate_states import (
    MANDATE,
    MANDATED_VOTE,
    VOTE_ACTIONS,
    M,
    V,
    available_actions,
    matter_decided,
    voting_choices,
)
from node.governance.authz import can_read, require_facilitator
from node.governance.bodies import electorate
from node.governance.members import grant
from node.models import Decision, LocalActor, Member, Proposal, ProposalVersion
from node.models.base import aware
from node.models.inbox import InboxItem
from node.models.matters import Mandate, MandatedVote, SignedObject
from node.models.outbox import OutboxItem
from node.outbox.publish import new_uid, publish
from node.tx import Tx

# Which positions a body's decision allows its mandate to take.
POSITIONS_FOR = {
    "adopted": {"approve", "approve_with_amendments", "free"},
    "rejected": {"reject", "free"},
    "no_quorum": {"abstain", "free"},
}


def _stamp(when: datetime) -> str:
    return aware(when).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _send(tx: Tx, body: LocalActor, kind: str, obj: Any, to: str, inbox: str
          ) -> dict[str, Any]:
    urls = tx.urls
    activity: dict[str, Any] = {
        "@context": matters.context(urls), "id": urls.activity(new_uid()), "type": kind,
        "actor": urls.actor(body.handle), "object": obj, "to": [to]}
    item = publish(tx, body, activity, to_followers=False, inboxes={inbox})
    return dict(json.loads(item.body))


# --- the member body's side --------------------------------------------------------


def issue_refusal(session: Session, member: Member | None, proposal: Proposal
                  ) -> Problem | None:
    """Why `member` may not give a mandate on `proposal` now (None: they may). The page
    offers the form by the same rule."""
    body = session.get(LocalActor, proposal.body_id)
    assert body is not None
    if not can_read(session, member, body):
        # A private body's proposals look missing from outside, as on every other route.
        return not_found("proposal")
    try:
        require_facilitator(session, member, body)
    except Problem as exc:
        return exc
    if not proposal.answers_to or not proposal.matter:
        return conflict("not-federated", "only a matter from a federation takes a mandate")
    if proposal.final_outcome:
        return conflict("matter-decided", "the federation has already decided this matter")
    if session.exec(select(Decision.id).where(Decision.proposal_id == proposal.id)).first() \
            is None:
        return conflict("not-decided", "the body decides its position first")
    return None


def issue(tx: Tx, proposal: Proposal, position: str, spokesperson_ids: list[int],
          amendments: list[str] | None = None, limits: str = "",
          expires_at: datetime | None = None) -> Mandate:
    """A facilitator turns the body's decision on a federated matter into its mandate."""
    session, urls, member = tx.session, tx.urls, tx.member
    refused = issue_refusal(session, member, proposal)
    if refused is not None:
        raise refused
    body = session.get(LocalActor, proposal.body_id)
    decision = session.exec(select(Decision).where(Decision.proposal_id == proposal.id)).first()
    assert body is not None and decision is not None  # both checked by issue_refusal
    if position not in objects.POSITIONS:
        raise invalid("unknown-position",
                      f"a mandate's position is one of {', '.join(objects.POSITIONS)}")
    if position not in POSITIONS_FOR.get(decision.outcome, set()):
        raise invalid("position-contradicts-decision",
                      f"a decision that was {decision.outcome} allows a mandate to "
                      f"{', '.join(sorted(POSITIONS_FOR.get(decision.outcome, set())))}")
    if position == "approve_with_amendments" and not amendments:
        raise invalid("bad-mandate", "name the amendments the approval depends on")
    if expires_at is not None and aware(expires_at) <= tx.now():
        raise invalid("bad-deadline", "a mandate must expire in the future")
    voters, people = electorate(session, body)
    wanted = set(spokesperson_ids)
    speakers = [m for m in people if m.id in wanted]
    if not speakers or len(speakers) != len(wanted):
        raise invalid("bad-spokesperson", "spokespersons must be members of the body")
    inbox = matters.federation_inbox(session, body, proposal.answers_to)
    actor = urls.actor(body.handle)
    families = voters.families
    doc = matters.sign(urls, body, objects.mandate_object(
        urls.obj(f"mandate-{new_uid()}"), actor, proposal.answers_to, proposal.matter,
        decision.version, position, [matters.spokesperson_uri(urls, m) for m in speakers],
        matters.now_stamp(tx.now()), amendments, limits, families,
        _stamp(expires_at) if expires_at else None,
        {matters.spokesperson_uri(urls, m): m.display_name for m in speakers}))
    for old in session.exec(select(Mandate).where(
            Mandate.member_body == actor, Mandate.matter == proposal.matter,
            col(Mandate.state).in_([M.live, M.refused]))).all():
        MANDATE.move(session, old, "supersede")
    for m in speakers:
        grant(tx, m, body, "spokesperson")
    mandate = Mandate(uri=doc["id"], member_body=actor, federation=proposal.answers_to,
                      matter=proposal.matter, version=decision.version, position=position,
                      amendments=json.dumps(sorted(set(amendments or []))), limits=limits,
                      spokespersons=json.dumps(doc["spokespersons"]), families=families,
                      expires_at=expires_at, proposal_id=proposal.id)
    session.add(mandate)
    matters.keep(session, doc, objects.MANDATE, actor, proposal.matter)
    _send(tx, body, "Create", doc, proposal.answers_to, inbox)
    tx.audit("mandate.issued", f"proposal:{proposal.id}",
             {"mandate": doc["id"], "position": position, "version": decision.version,
              "spokespersons": doc["spokespersons"]})
    session.flush()
    told.mandate_given(tx, body, mandate, proposal)
    return mandate


def _own(session: Session, urls: Urls, mandate_id: int) -> tuple[Mandate, LocalActor]:
    mandate = session.get(Mandate, mandate_id)
    handle = urls.handle_of_actor(mandate.member_body) if mandate else None
    body = session.exec(select(LocalActor).where(LocalActor.handle == handle)).first() \
        if handle else None
    if mandate is None or body is None:
        raise not_found("mandate")
    return mandate, body


def recall(tx: Tx, mandate_id: int, reason: str = "") -> Mandate:
    """The body takes its mandate back; the federation withdraws votes not yet final."""
    session, urls, member = tx.session, tx.urls, tx.member
    mandate, body = _own(session, urls, mandate_id)
    require_facilitator(session, member, body)
    if matter_decided(session, mandate) and MANDATE.may("recall", mandate.state):
        raise conflict("matter-decided", "the federation has already decided this matter")
    if "recall" not in available_actions(session, urls, member, mandate, tx.now()):
        raise conflict("bad-state", f"this mandate is already {mandate.state}")
    MANDATE.move(session, mandate, "recall")
    inbox = matters.federation_inbox(session, body, mandate.federation)
    _send(tx, body, "Delete", mandate.uri, mandate.federation, inbox)
    tx.audit("mandate.recalled", f"mandate:{mandate.id}",
             {"mandate": mandate.uri, "reason": reason[:500]})
    told.mandate_recalled(tx, body, mandate)
    return mandate


def cast(tx: Tx, mandate_id: int, choice: str) -> str:
    """A spokesperson votes at the federation, within the mandate; the body signs it."""
    session, urls, member = tx.session, tx.urls, tx.member
    mandate, body = _own(session, urls, mandate_id)
    # Why not, if not: the same rule available_actions offers the choices by.
    possible = voting_choices(session, urls, member, mandate, body, tx.now())
    if choice not in objects.CHOICES:
        raise invalid("bad-choice", "choose for, against or abstain")
    if VOTE_ACTIONS[choice] not in available_actions(session, urls, member, mandate, tx.now()) or \
            choice not in possible:
        raise Problem(403, "outside-mandate",
                      f"a mandate to {mandate.position} does not allow voting {choice}",
                      field="choice")
    me = matters.spokesperson_uri(urls, member)
    inbox = matters.federation_inbox(session, body, mandate.federation)
    # The version the federation last sent us (an amendment there may have moved it on;
    # the federation decides whether this mandate still holds for it).
    latest = max([p.current_version for p in session.exec(select(Proposal).where(
        Proposal.body_id == body.id, Proposal.matter == mandate.matter)).all()],
        default=mandate.version)
    doc = matters.sign(urls, body, objects.vote_object(
        urls.obj(f"vote-{new_uid()}"), mandate.member_body, mandate.matter, latest,
        mandate.uri, me, choice, matters.now_stamp(tx.now())))
    matters.keep(session, doc, objects.VOTE, mandate.member_body, mandate.matter)
    # A new vote replaces any refusal of an earlier one (the federation will answer it).
    MANDATE.move(session, mandate, "vote", refusal="", refusal_code="", refused_at=None)
    _keep_sent(tx, mandate, doc, choice)
    _send(tx, body, "Create", doc, mandate.federation, inbox)
    tx.audit("mandate.vote_cast", f"mandate:{mandate.id}",
             {"vote": doc["id"], "choice": choice})
    return str(doc["id"])


def _keep_sent(tx: Tx, mandate: Mandate, doc: dict[str, Any], choice: str) -> None:
    """The vote as sent, on the issuing side (one per body and matter, the latest): so
    the spokesperson sees what went and whether the federation refused it."""
    if mandate.proposal_id is None:
        return
    values: dict[str, Any] = {
        "uri": doc["id"], "mandate_uri": mandate.uri, "spokesperson": doc["spokesperson"],
        "version": int(doc["proposalVersion"]), "choice": choice, "cast_at": tx.now()}
    vote = tx.session.exec(select(MandatedVote).where(
        MandatedVote.proposal_id == mandate.proposal_id,
        MandatedVote.member_body == mandate.member_body)).first()
    if vote is None:
        tx.session.add(MandatedVote(proposal_id=mandate.proposal_id,
                                    member_body=mandate.member_body, state=V.sent, **values))
    else:
        MANDATED_VOTE.move(tx.session, vote, "resend", **values)


def _sent(session: Session, create_id: str) -> tuple[Mandate, SignedObject] | None:
    """The mandate behind a Create (of a vote or of the mandate) one of our bodies sent."""
    sent = session.exec(select(OutboxItem).where(OutboxItem.activity_id == create_id,
                                                 OutboxItem.activity_type == "Create")
                        ).first()
    if sent is None or not sent.object_id:
        return None
    kept = session.exec(select(SignedObject).where(SignedObject.uri == sent.object_id)).first()
    if kept is None or kept.type not in (objects.VOTE, objects.MANDATE):
        return None
    mandate_uri = kept.uri if kept.type == objects.MANDATE else \
        str(json.loads(kept.body).get("mandate") or "")
    mandate = session.exec(select(Mandate).where(Mandate.uri == mandate_uri)).first()
    # Only the issuing side links a mandate to the proposal whose decision it carries.
    if mandate is None or mandate.proposal_id is None:
        return None
    return mandate, kept


def sent_to_federation(session: Session, create_id: str) -> tuple[int, str] | None:
    """For the inbox authority: (our body, the federation) if `create_id` is a vote or
    mandate our body sent to that federation, the only one that may answer it."""
    found = _sent(session, create_id)
    if found is None:
        return None
    proposal = session.get(Proposal, found[0].proposal_id)
    return (proposal.body_id, found[0].federation) if proposal is not None else None


def receive_refusal(tx: Tx, federation: str, create_id: str, reason: str,
                    code: str = "") -> bool:
    """The federation refused a vote (or a mandate) one of our bodies sent it: the mandate
    moves to `refused` keeping the federation's code and words, and the vote as sent is
    marked refused. Only the federation it was sent to may refuse it (recorded as its
    act)."""
    session = tx.session
    found = _sent(session, create_id)
    if found is None or found[0].federation != federation:
        return False
    mandate, kept = found
    code = code or _reject_code(session, federation, create_id)
    if MANDATE.may("refuse", mandate.state):
        MANDATE.move(session, mandate, "refuse", refusal=reason[:2000],
                     refusal_code=code[:64], refused_at=tx.now())
    vote = session.exec(select(MandatedVote).where(MandatedVote.uri == kept.uri)).first()
    if vote is not None and MANDATED_VOTE.may("refuse", vote.state):
        MANDATED_VOTE.move(session, vote, "refuse")
    tx.acting_as(f"remote:{federation}").audit(
        "mandate.refused", f"mandate:{mandate.id}",
        {"object": kept.uri, "code": code, "reason": reason[:500]})
    return True


def _reject_code(session: Session, federation: str, create_id: str) -> str:
    """The stable code (`summary`) of the federation's Reject of `create_id`, read from the
    stored activity being handled: the inbox hands the refusal on with its words only."""
    rows = session.exec(select(InboxItem.body).where(
        InboxItem.actor == federation, InboxItem.activity_type == "Reject")
        .order_by(col(InboxItem.id).desc()).limit(20)).all()
    for raw in rows:
        try:
            activity = json.loads(raw)
        except ValueError:
            continue
        named = activity.get("object")
        named = named.get("id") if isinstance(named, dict) else named
        if named == create_id and isinstance(activity.get("summary"), str):
            return str(activity["summary"])[:64]
    return ""


# --- the federation's side ---------------------------------------------------------


def _matter_row(session: Session, federation: LocalActor, matter: str) -> Proposal | None:
    rows = session.exec(select(Proposal).where(
        Proposal.body_id == federation.id, Proposal.matter == matter,
        Proposal.electorate == "bodies").order_by(col(Proposal.id).desc())).all()
    return rows[0] if rows else None


def adopted_amendments(session: Session, base: str, proposal: Proposal) -> set[str]:
    """The federation's amendments in the proposal's current text, as URIs."""
    rows = session.exec(select(ProposalVersion.origin).where(
        ProposalVersion.proposal_id == proposal.id,
        ProposalVersion.number <= proposal.current_version,
        col(ProposalVersion.origin).startswith("amendment:"))).all()
    return {objects.amendment_uri(base, int(r.split(":", 1)[1])) for r in rows}


def receive_mandate(tx: Tx, federation: LocalActor, doc: objects.MandateDoc,
                    raw: dict[str, Any]) -> Mandate:
    """Refuses (Problem) anything that is not a member body's mandate for a matter this
    federation is voting on, at its current version. Recorded as the member body's act."""
    session, urls = tx.session, tx.urls
    here = urls.actor(federation.handle)
    if doc.federation != here:
        raise objects.refused("the mandate is for another federation", "wrong-federation")
    if not matters.has_member(session, federation, doc.member_body):
        raise objects.refused("only member bodies give mandates here", "not-member")
    row = _matter_row(session, federation, doc.matter)
    if row is None:
        raise objects.refused("this federation has no such matter", "unknown-matter")
    if row.state not in ("deliberation", "vote"):
        # Decided: a new mandate would supersede one whose vote counted in it.
        raise objects.refused("the federation has already decided this matter",
                              "matter-decided", 409)
    if doc.version != row.current_version:
        raise objects.refused(f"the matter is at version {row.current_version}, not "
                              f"{doc.version}", "wrong-version", 409)
    if session.exec(select(Mandate.id).where(Mandate.uri == doc.id)).first() is not None:
        raise objects.refused("this mandate was already received", "replayed")
    for old in session.exec(select(Mandate).where(
            Mandate.member_body == doc.member_body, Mandate.matter == doc.matter,
            Mandate.state == M.live)).all():
        MANDATE.move(session, old, "supersede")
        _withdraw(tx, row, old.uri, "superseded")
    expires = datetime.fromisoformat(doc.expires.replace("Z", "+00:00")) \
        if doc.expires else None
    # The mandate's `families` is what the body says of itself: not kept. Its weight is
    # the number this federation accepted on its membership (see outcomes._weights).
    mandate = Mandate(uri=doc.id, member_body=doc.member_body, federation=here,
                      matter=doc.matter, version=doc.version, position=doc.position,
                      amendments=json.dumps(doc.amendments), limits=doc.limits,
                      spokespersons=json.dumps(doc.spokespersons), families=0,
                      expires_at=expires)
    session.add(mandate)
    matters.keep(session, raw, objects.MANDATE, doc.member_body, doc.matter,
                 doc.member_body)
    tx.acting_as(f"remote:{doc.member_body}").audit(
        "mandate.received", f"proposal:{row.id}", {"mandate": doc.id, "position": doc.position})
    session.flush()
    told.at_federation(tx, federation, mandate, row)
    return mandate


def _withdraw(tx: Tx, row: Proposal, mandate_uri: str, why: str) -> int:
    """Withdraw the votes cast under a mandate, as the node's own processing."""
    if row.state not in ("deliberation", "vote"):
        return 0  # decided: final, nothing to withdraw
    n = 0
    for v in tx.session.exec(select(MandatedVote).where(
            MandatedVote.mandate_uri == mandate_uri, MandatedVote.state == V.counted)).all():
        MANDATED_VOTE.move(tx.session, v, "withdraw")
        tx.acting_as(None).audit("mandate.vote_withdrawn", f"proposal:{row.id}",
                                 {"vote": v.uri, "why": why})
        n += 1
    return n


def receive_recall(tx: Tx, federation: LocalActor, member_body: str,
                   mandate_uri: str) -> bool:
    """The member body `member_body` takes its mandate back (recorded as its act)."""
    session = tx.session
    mandate = session.exec(select(Mandate).where(Mandate.uri == mandate_uri)).first()
    if mandate is None or mandate.member_body != member_body:
        return False  # only the body that gave a mandate can take it back
    moved = MANDATE.may("recall", mandate.state)
    if moved:
        MANDATE.move(session, mandate, "recall")
    row = _matter_row(session, federation, mandate.matter)
    if row is not None:
        _withdraw(tx, row, mandate_uri, "recalled")
    if moved:
        told.at_federation(tx, federation, mandate, row, recalled=True)
    tx.acting_as(f"remote:{member_body}").audit("mandate.recalled",
                                                f"body:{federation.handle}",
                                                {"mandate": mandate_uri})
    return True


def receive_vote(tx: Tx, federation: LocalActor, doc: objects.VoteDoc,
                 raw: dict[str, Any]) -> MandatedVote:
    """Counts a vote only within a live mandate, for the exact version, by one of the
    mandate's spokespersons, from a member body; refuses (Problem) anything else.
    Recorded as the member body's act."""
    row = _matter_open_to_vote(tx, federation, doc)
    if tx.session.exec(select(MandatedVote.id).where(MandatedVote.uri == doc.id)).first():
        raise objects.refused("this vote was already counted", "replayed")
    _check_within_mandate(tx, row, doc)
    return _count_vote(tx, row, doc, raw)


def _matter_open_to_vote(tx: Tx, federation: LocalActor, doc: objects.VoteDoc) -> Proposal:
    session = tx.session
    if not matters.has_member(session, federation, doc.member_body):
        raise objects.refused("only member bodies vote here", "not-member")
    row = _matter_row(session, federation, doc.matter)
    if row is None:
        raise objects.refused("this federation has no such matter", "unknown-matter")
    if row.state != "vote" or row.closes_at is None or aware(row.closes_at) <= tx.now():
        raise objects.refused("this matter is not open for voting", "vote-closed", 409)
    if doc.version != row.current_version:
        raise objects.refused(f"the vote is on version {row.current_version}, not "
                              f"{doc.version}", "wrong-version", 409)
    return row


def _check_within_mandate(tx: Tx, row: Proposal, doc: objects.VoteDoc) -> None:
    mandate = tx.session.exec(select(Mandate).where(Mandate.uri == doc.mandate)).first()
    if mandate is None:
        raise objects.refused("no mandate behind this vote", "no-mandate")
    if mandate.member_body != doc.member_body or mandate.matter != doc.matter:
        raise objects.refused("the mandate is not this body's for this matter",
                              "foreign-mandate")
    if mandate.state != "live":
        raise objects.refused(f"the mandate was {mandate.state}", "mandate-not-live", 409)
    if mandate.expires_at is not None and aware(mandate.expires_at) <= tx.now():
        raise objects.refused("the mandate has expired", "mandate-not-live", 409)
    if mandate.version != row.current_version:
        raise objects.refused("the mandate was given for another version",
                              "wrong-version", 409)
    if doc.spokesperson not in json.loads(mandate.spokespersons):
        raise objects.refused("the voter is not a spokesperson of this mandate",
                              "not-spokesperson", 403)
    allowed = objects.allowed_choices(mandate.position, json.loads(mandate.amendments),
                                      adopted_amendments(tx.session, tx.urls.base, row))
    if doc.choice not in allowed:
        raise objects.refused(f"a mandate to {mandate.position} does not allow "
                              f"{doc.choice}", "outside-mandate", 403)


def _count_vote(tx: Tx, row: Proposal, doc: objects.VoteDoc,
                raw: dict[str, Any]) -> MandatedVote:
    session = tx.session
    values: dict[str, Any] = {
        "uri": doc.id, "mandate_uri": doc.mandate, "spokesperson": doc.spokesperson,
        "version": doc.version, "choice": doc.choice, "cast_at": tx.now()}
    vote = session.exec(select(MandatedVote).where(
        MandatedVote.proposal_id == row.id, MandatedVote.member_body == doc.member_body)
    ).first()
    if vote is None:
        vote = MandatedVote(proposal_id=row.id or 0, member_body=doc.member_body,
                            state=V.counted, **values)
        session.add(vote)
    else:
        # The body's newer vote replaces its earlier one (or one its mandate lost).
        MANDATED_VOTE.move(session, vote, "recount", **values)
    matters.keep(session, raw, objects.VOTE, doc.member_body, doc.matter, doc.member_body)
    tx.acting_as(f"remote:{doc.member_body}").audit(
        "mandate.vote_counted", f"proposal:{row.id}",
        {"vote": doc.id, "choice": doc.choice, "mandate": doc.mandate})
    session.flush()
    return vote


def answer_refusal(tx: Tx, federation: LocalActor, activity: dict[str, Any], inbox: str,
                   problem: Problem) -> None:
    """Tell the member body why its mandate or vote was not taken (the federation acts
    as itself)."""
    urls = tx.urls
    reject: dict[str, Any] = {
        "@context": matters.context(urls), "id": urls.activity(new_uid()), "type": "Reject",
        "actor": urls.actor(federation.handle), "object": activity.get("id"),
        "summary": problem.code, "content": problem.detail, "to": [activity.get("actor")]}
    publish(tx, federation, reject, to_followers=False, inboxes={inbox})
    tx.acting_as(federation).audit("matter.refused_from_member", f"body:{federation.handle}",
                                   {"activity": activity.get("id"), "code": problem.code})
