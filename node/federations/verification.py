"""Checking a federated decision from its signed parts alone: the decision's own
proof, each mandate's and each vote's proof by its member body, each vote within
its mandate (version, spokesperson, position), and the tally recomputed under the
statute the decision states. Any node can run it on a decision it received
(`comuna verify DECISION-ID`); nothing here trusts the node that relayed it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from node.activitypub.proofs import ProofError, proof_of, verify_object
from node.errors import Problem
from node.federations import objects
from node.governance.statute import Statute, StatuteError
from node.governance.tally import Counts, Electorate, tally

KeyLookup = Callable[[str], Awaitable[ed25519.Ed25519PublicKey | None]]


@dataclass(frozen=True)
class Finding:
    """One thing the check found wrong: a stable `code` a page words in its reader's
    language (with `body`, the member body concerned, named there), and `text`, the
    same in English with the details, for `comuna verify` and the JSON API."""

    code: str
    text: str
    body: str = ""
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    decision: str
    findings: list[Finding] = field(default_factory=list)
    counted: dict[str, int] = field(default_factory=dict)
    outcome: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.findings

    @property
    def problems(self) -> list[str]:
        return [f.text for f in self.findings]

    def add(self, code: str, text: str, body: str = "", **params: object) -> None:
        self.findings.append(Finding(code, text, body, {k: str(v) for k, v in params.items()}))


async def _proof_by(doc: dict[str, Any], author: str, keys: KeyLookup) -> str | None:
    """None if `doc` carries a valid proof by `author`, else what is wrong."""
    try:
        method = str(proof_of(doc)["verificationMethod"])
    except ProofError as exc:
        return str(exc)
    if method.split("#", 1)[0] != author:
        return f"signed by {method}, not by {author}"
    key = await keys(method)
    if key is None:
        return f"key {method} cannot be loaded"
    try:
        verify_object(doc, key)
    except ProofError as exc:
        return str(exc)
    return None


async def verify_decision(note: dict[str, Any], keys: KeyLookup) -> Report:
    report = Report(str(note.get("id", "")))
    author = str(note.get("attributedTo", ""))
    bad = await _proof_by(note, author, keys)
    if bad:
        report.add("decision-proof", f"decision: {bad}")
    try:
        statute = Statute.from_dict(note.get("statute") or {})
    except StatuteError as exc:
        report.add("statute-unreadable", f"statute: {exc}")
        return report
    version = note.get("proposalVersion")
    matter = note.get("matter")
    weights = {str(m.get("id")): int(m.get("weight", 1)) for m in note.get("memberBodies", [])
               if isinstance(m, dict)}
    chain = {str(a.get("id")): int(a.get("proposalVersion", 0))
             for a in note.get("amendments", []) if isinstance(a, dict)}
    adopted = {uri for uri, n in chain.items() if isinstance(version, int) and n <= version}
    mandates = await _proven_mandates(note, author, matter, keys, report)
    tot = {c: 0 for c in objects.CHOICES}
    seen: set[str] = set()
    for raw in note.get("mandatedVotes", []):
        try:
            v = objects.read_vote(raw)
        except Problem as exc:
            report.add("vote-unreadable", f"vote: {exc.detail}")
            continue
        why = await _vote_problem(raw, v, mandates, weights, version, matter, adopted, chain,
                                  keys)
        if why is None and v.member_body in seen:
            why = ("vote-twice", "a second vote from the same body", {})
        if why:
            code, text, params = why
            report.add(code, f"vote {v.id}: {text}", v.member_body, **params)
            continue
        seen.add(v.member_body)
        tot[v.choice] += weights[v.member_body]
        report.lines.append(f"{v.member_body}: {v.choice} (weight {weights[v.member_body]}) "
                            f"by {v.spokesperson} under {v.mandate}")
    total = sum(weights.values())
    counts = Counts(yes=tot["for"], no=tot["against"], abstain=tot["abstain"],
                    families=sum(weights[b] for b in seen))
    result = tally(statute, counts, Electorate(members=total, families=total))
    report.outcome = result.outcome.value
    report.counted = {"for": counts.yes, "against": counts.no, "abstain": counts.abstain,
                      "electorate": total}
    _compare_with_stated(note, report)
    return report


async def _proven_mandates(note: dict[str, Any], author: str, matter: Any, keys: KeyLookup,
                           report: Report) -> dict[str, objects.MandateDoc]:
    """The decision's mandates each signed by its member body for this matter and
    federation; the others go to the report's problems."""
    mandates: dict[str, objects.MandateDoc] = {}
    for raw in note.get("mandates", []):
        try:
            m = objects.read_mandate(raw)
        except Problem as exc:
            report.add("mandate-unreadable", f"mandate: {exc.detail}")
            continue
        bad = await _proof_by(raw, m.member_body, keys)
        if bad:
            report.add("mandate-proof", f"mandate {m.id}: {bad}", m.member_body)
            continue
        if m.matter != matter or m.federation != author:
            report.add("mandate-elsewhere", f"mandate {m.id} is for another matter or federation",
                       m.member_body)
            continue
        mandates[m.id] = m
    return mandates


def _compare_with_stated(note: dict[str, Any], report: Report) -> None:
    """What the decision says against what its signed votes give."""
    stated = {"for": note.get("votesFor"), "against": note.get("votesAgainst"),
              "abstain": note.get("abstentions")}
    for k, value in stated.items():
        if value != report.counted[k]:
            report.add("count-differs", f"the decision says {k} {value}; the signed votes "
                       f"give {report.counted[k]}", choice=k, stated=value,
                       counted=report.counted[k])
    if note.get("outcome") != report.outcome:
        report.add("outcome-differs", f"the decision says {note.get('outcome')}; the statute "
                   f"and the signed votes give {report.outcome}",
                   stated=note.get("outcome"), counted=report.outcome)


async def _vote_problem(raw: dict[str, Any], v: objects.VoteDoc,
                        mandates: dict[str, objects.MandateDoc], weights: dict[str, int],
                        version: Any, matter: Any, adopted: set[str], chain: dict[str, int],
                        keys: KeyLookup) -> tuple[str, str, dict[str, object]] | None:
    bad = await _proof_by(raw, v.member_body, keys)
    if bad:
        return "vote-proof", bad, {}
    if v.member_body not in weights:
        return "vote-not-member", "not from a member body", {}
    if v.matter != matter or v.version != version:
        return ("vote-other-version", f"for version {v.version}, not the decided {version}",
                {"version": v.version, "decided": version})
    m = mandates.get(v.mandate)
    if m is None:
        return ("vote-no-mandate", "its mandate is not among the decision's (valid) mandates",
                {})
    if m.member_body != v.member_body:
        return "vote-mandate-other-body", "the mandate belongs to another body", {}
    if v.spokesperson not in m.spokespersons:
        return ("vote-not-spokesperson", "cast by someone who is not the mandate's spokesperson",
                {})
    if m.version != version:
        # A mandate for an earlier version holds only if every amendment since allowed it.
        later = [uri for uri, n in chain.items() if m.version < n <= version]
        if not later or not all(objects.carries_over(m.position, m.amendments, uri)
                                for uri in later):
            return ("vote-mandate-version", f"the mandate was for version {m.version}",
                    {"version": m.version})
    if v.choice not in objects.allowed_choices(m.position, m.amendments, adopted):
        return ("vote-outside-mandate", f"a mandate to {m.position} does not allow {v.choice}",
                {"position": m.position, "choice": v.choice})
    return None
