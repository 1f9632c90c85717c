"""A body's record as rows for a spreadsheet or a program: its decisions, the votes
behind them, participation, and the ledger of what it gave and received.

Who may take which: what the body's pages already show to its readers (anyone, for
a public body) — decisions, participation, the ledger — and the votes to its
members only. A secret ballot gives counts and nothing else, for anyone: after the
count no row says who chose what (node.governance.decisions), and an export never
joins who took part with a choice."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from node.activitypub.urls import Urls
from node.economy.intents import catalogue
from node.errors import Problem
from node.federations import names
from node.governance.authz import require_member, require_read
from node.governance.proposals import version
from node.governance.statute import Statute, statute_of_vote
from node.models import (
    Amendment,
    Decision,
    EconomicEvent,
    LocalActor,
    Meeting,
    Member,
    Proposal,
)
from node.models.base import aware

Row = dict[str, Any]

COLUMNS: dict[str, list[str]] = {
    "decisions": ["decision", "proposal", "title", "version", "outcome", "method",
                  "decided_at", "rule", "quorum_basis", "quorum", "secret_ballot", "for",
                  "against", "abstain", "block", "participants", "electorate_members",
                  "electorate_families", "execution", "federated_outcome"],
    "votes": ["decision", "proposal", "title", "decided_at", "method", "secret_ballot",
              "voter", "choice", "ballots", "weight", "reason", "spokesperson", "amendment"],
    "participation": ["kind", "date", "meeting", "decision", "proposal", "title", "method",
                      "participants", "electorate_members", "families",
                      "electorate_families", "present", "families_present"],
    "ledger": ["date", "direction", "partner", "partner_uri", "kind", "kind_uri",
               "quantity", "unit", "note", "delivery"],
}
WHAT = tuple(COLUMNS)
# Readers of the body may take these; the others are for its members.
FOR_READERS = ("decisions", "participation", "ledger")


def require_export(session: Session, viewer: Member | None, body: LocalActor,
                   what: str) -> None:
    """A private body stays invisible to outsiders (404, as everywhere); the votes of a
    public one are refused to anyone but its members (401 / 403)."""
    if what not in COLUMNS:
        raise Problem(404, "not-found", f"no export named {what}")
    require_read(session, viewer, body)
    if what not in FOR_READERS:
        require_member(session, viewer, body)


def _decided(session: Session, body: LocalActor
             ) -> list[tuple[Decision, Proposal, dict[str, Any], Statute, str]]:
    out = []
    for d in session.exec(select(Decision).where(Decision.body_id == body.id)
                          .order_by(col(Decision.decided_at), col(Decision.id))).all():
        p = session.get(Proposal, d.proposal_id)
        if p is None:
            continue
        record: dict[str, Any] = json.loads(d.record)
        statute = Statute.from_dict(record.get("statute") or {})
        out.append((d, p, record, statute, version(session, p, d.version).title))
    return out


def decisions(session: Session, urls: Urls, body: LocalActor) -> list[Row]:
    rows = []
    for d, p, rec, st, title in _decided(session, body):
        c, e = rec.get("counts", {}), rec.get("electorate", {})
        rows.append({
            "decision": d.id, "proposal": p.id, "title": title, "version": d.version,
            "outcome": d.outcome, "method": d.method, "decided_at": aware(d.decided_at),
            "rule": st.rule.value, "quorum_basis": st.quorum_basis.value,
            "quorum": str(st.quorum), "secret_ballot": st.secret_ballot,
            "for": c.get("for", 0), "against": c.get("against", 0),
            "abstain": c.get("abstain", 0), "block": c.get("block", 0),
            "participants": c.get("participants", 0),
            "electorate_members": e.get("members", 0),
            "electorate_families": e.get("families", 0), "execution": d.execution,
            "federated_outcome": p.final_outcome or None})
    return rows


def _choices(st: Statute) -> list[str]:
    return ["for", "against", "abstain"] + (["block"] if st.rule.value == "consent" else [])


def votes(session: Session, urls: Urls, body: LocalActor) -> list[Row]:
    """One row per ballot where the statute kept ballots; one row per choice, with its
    count and no voter, for a secret ballot and for an assembly's show of hands."""
    decided = _decided(session, body)
    amended = _counted_amendments(session, body)
    people = _people(session, [rec for _, _, rec, _, _ in decided] +
                     [rec for _, _, rec in amended])
    uris = [str(b.get(k, "")) for d, _, rec, _, _ in decided if d.method == "mandates"
            for b in (rec.get("ballots") or []) for k in ("member", "spokesperson")]
    mandates = [str(b.get("mandate", "")) for d, _, rec, _, _ in decided
                if d.method == "mandates" for b in (rec.get("ballots") or [])]
    named = names.names(session, urls, uris, names.spokesperson_names(session, mandates)) \
        if uris else {}
    rows: list[Row] = []
    for d, p, rec, st, title in decided:
        base = {"decision": d.id, "proposal": p.id, "title": title,
                "decided_at": aware(d.decided_at), "method": d.method,
                "secret_ballot": st.secret_ballot, "amendment": None}
        ballots = rec.get("ballots")
        if st.secret_ballot or not isinstance(ballots, list):
            rows += _counts_only(base, rec, st)
        elif d.method == "mandates":
            for b in ballots:
                member, speaker = str(b.get("member", "")), str(b.get("spokesperson", ""))
                rows.append({**base, "voter": named.get(member, member),
                             "choice": b.get("choice"), "ballots": 1,
                             "weight": int(b.get("weight", 1)), "reason": None,
                             "spokesperson": named.get(speaker, speaker) or None})
        else:
            rows += _ballot_rows(base, ballots, people)
    for a, p, rec in amended:
        # Votes on amendments, under the same rule: the statute that vote opened with.
        st = statute_of_vote(a, body)
        base = {"decision": None, "proposal": p.id, "title": a.title,
                "decided_at": aware(a.closes_at or a.created_at), "method": "online",
                "secret_ballot": st.secret_ballot, "amendment": a.id}
        ballots = rec.get("ballots")
        if st.secret_ballot or not isinstance(ballots, list):
            rows += _counts_only(base, rec, st)
        else:
            rows += _ballot_rows(base, ballots, people)
    return sorted(rows, key=lambda r: r["decided_at"])


def _counted_amendments(session: Session, body: LocalActor
                        ) -> list[tuple[Amendment, Proposal, dict[str, Any]]]:
    """The body's amendments whose vote was counted, with its record."""
    rows = session.exec(
        select(Amendment, Proposal).join(Proposal, col(Proposal.id) == Amendment.proposal_id)
        .where(Proposal.body_id == body.id, Amendment.record != "",
               col(Amendment.closes_at).is_not(None))
        .order_by(col(Amendment.closes_at), col(Amendment.id))).all()
    return [(a, p, json.loads(a.record)) for a, p in rows]


def _people(session: Session, records: list[dict[str, Any]]) -> dict[int | None, str]:
    """Names of the members whose ballots these records kept."""
    ids = {int(b["member"]) for rec in records for b in (rec.get("ballots") or [])
           if isinstance(b.get("member"), int)}
    return {m.id: m.display_name for m in session.exec(
        select(Member).where(col(Member.id).in_(sorted(ids)))).all()} if ids else {}


def _ballot_rows(base: Row, ballots: list[dict[str, Any]], people: dict[int | None, str]
                 ) -> list[Row]:
    return [{**base, "voter": people.get(b.get("member")), "choice": b.get("choice"),
             "ballots": 1, "weight": 1, "reason": b.get("reason") or None,
             "spokesperson": None} for b in ballots]


def _counts_only(base: Row, rec: dict[str, Any], st: Statute) -> list[Row]:
    counts = rec.get("counts", {})
    return [{**base, "voter": None, "choice": ch, "ballots": int(counts.get(ch, 0)),
             "weight": int(counts.get(ch, 0)), "reason": None, "spokesperson": None}
            for ch in _choices(st)]


def participation(session: Session, urls: Urls, body: LocalActor) -> list[Row]:
    """Each assembly (people and families present) and each decision (who took part
    of how many), in the order they happened."""
    rows: list[Row] = []
    for m in session.exec(select(Meeting).where(Meeting.body_id == body.id)).all():
        rows.append({"kind": "assembly", "date": aware(m.held_at), "meeting": m.id,
                     "decision": None, "proposal": None, "title": m.place or None,
                     "method": None, "participants": None, "electorate_members": None,
                     "families": None, "electorate_families": None,
                     "present": m.attendance, "families_present": m.families})
    for d, p, rec, _st, title in _decided(session, body):
        c, e = rec.get("counts", {}), rec.get("electorate", {})
        held = rec.get("assembly") or {}
        rows.append({"kind": "decision", "date": aware(d.decided_at), "meeting": d.meeting_id,
                     "decision": d.id, "proposal": p.id, "title": title, "method": d.method,
                     "participants": c.get("participants", 0),
                     "electorate_members": e.get("members", 0),
                     "families": c.get("families", 0),
                     "electorate_families": e.get("families", 0),
                     "present": held.get("present"),
                     "families_present": held.get("families_present")})
    rows.sort(key=lambda r: (r["date"], r["kind"] != "assembly"))
    return rows


def ledger(session: Session, urls: Urls, body: LocalActor, lang: str = "es") -> list[Row]:
    """Every confirmed delivery the body gave or received, oldest first."""
    here = urls.actor(body.handle)
    events = session.exec(select(EconomicEvent).where(
        EconomicEvent.state == "confirmed",
        (col(EconomicEvent.provider) == here) | (col(EconomicEvent.receiver) == here))
        .order_by(col(EconomicEvent.happened_at), col(EconomicEvent.id))).all()
    partners = [e.receiver if e.provider == here else e.provider for e in events]
    named = names.names(session, urls, partners) if partners else {}
    cat = catalogue(session)
    rows = []
    for e, partner in zip(events, partners, strict=True):
        direction = "inside" if e.provider == e.receiver else \
            "gave" if e.provider == here else "received"
        kind = cat.kind(e.kind)
        rows.append({"date": aware(e.happened_at), "direction": direction,
                     "partner": named.get(partner, partner), "partner_uri": partner,
                     "kind": kind.label(lang) if kind else e.kind, "kind_uri": e.kind,
                     "quantity": str(Decimal(e.quantity)), "unit": e.unit,
                     "note": e.note or None, "delivery": e.uri})
    return rows


Builder = Callable[[Session, Urls, LocalActor], list[Row]]
BUILDERS: dict[str, Builder] = {"decisions": decisions, "votes": votes,
                                "participation": participation}


def rows_of(session: Session, urls: Urls, body: LocalActor, what: str,
            lang: str = "es") -> list[Row]:
    if what == "ledger":
        return ledger(session, urls, body, lang)
    return BUILDERS[what](session, urls, body)


def when(value: datetime | None, tz: Any) -> str | None:
    """ISO 8601 with the offset of the node's zone."""
    return value.astimezone(tz).isoformat() if value is not None else None


def offered(session: Session, viewer: Member | None, body: LocalActor) -> list[str]:
    """The exports `viewer` may take of `body` (a page links exactly these)."""
    out = []
    for what in WHAT:
        try:
            require_export(session, viewer, body, what)
        except Problem:
            continue
        out.append(what)
    return out
