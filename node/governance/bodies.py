"""Bodies hosted on this node (the commune's assembly and its councils) and their statutes."""

from __future__ import annotations

import json
import re
import unicodedata

from sqlalchemy import func
from sqlmodel import Session, col, select

from node.activitypub.identity import create_local_actor
from node.errors import Problem, invalid, not_found
from node.governance import authz, members
from node.governance.statute import Statute, parse
from node.governance.tally import Electorate
from node.models import LocalActor, Member, Membership
from node.storage import changes
from node.tx import Tx

# The assembly of the commune (or city...) itself; the bodies inside a commune as the
# communal law names them.
KINDS = ("assembly", "citizens_assembly", "communal_council", "communal_parliament",
         "sectoral_council", "workers_council")


def body_by_handle(session: Session, handle: str) -> LocalActor:
    body = session.exec(select(LocalActor).where(LocalActor.handle == handle.lower())).first()
    if body is None:
        raise not_found("body")
    return body


def statute_of(body: LocalActor) -> Statute:
    """The body's statute now: for new votes and the body's own affairs. An open vote's
    rules are `statute.statute_of_vote`."""
    return parse(body.statute)


def set_statute(tx: Tx, body: LocalActor, statute: Statute) -> None:
    # Votes already open keep the statute frozen on their rows; this governs later ones.
    body.statute = json.dumps(statute.to_dict())
    tx.session.add(body)
    tx.audit("statute.changed", f"body:{body.handle}", statute.to_dict())


def create_body(tx: Tx, parent: LocalActor, handle: str, name: str, kind: str,
                statute: Statute | None = None, public: bool = True) -> LocalActor:
    session = tx.session
    if kind not in KINDS:
        raise invalid("bad-kind", f"kind must be one of {', '.join(KINDS)}")
    body = create_local_actor(session, handle.lower(), name, parent.level)
    body.kind = kind
    body.parent_id = parent.id
    body.public = public
    body.statute = json.dumps((statute or Statute()).to_dict())
    session.add(body)
    session.flush()
    tx.audit("body.created", f"body:{body.handle}",
             {"parent": parent.handle, "kind": kind, "public": public})
    return body


def electorate(session: Session, body: LocalActor) -> tuple[Electorate, list[Member]]:
    """Who may vote in `body` now, and how many members and families that is."""
    members = list(session.exec(
        select(Member).join(Membership, col(Membership.member_id) == col(Member.id))
        .where(Membership.body_id == body.id, Membership.role == "member")
        .order_by(col(Member.id))).all())
    families = {m.family for m in members if m.family}
    return Electorate(members=len(members), families=len(families)), members


def member_count(session: Session, body: LocalActor) -> int:
    return int(session.exec(select(func.count()).select_from(Membership).where(
        Membership.body_id == body.id, Membership.role == "member")).one())


def children(session: Session, body: LocalActor) -> list[LocalActor]:
    """The bodies inside `body` (created from the pages or the API alike)."""
    return list(session.exec(select(LocalActor).where(LocalActor.parent_id == body.id)
                             .order_by(col(LocalActor.name))).all())


def describe(tx: Tx, body: LocalActor, name: str, summary: str) -> None:
    """A coordinator renames the body or changes its description (its public profile)."""
    session = tx.session
    authz.require_action(session, tx.member, body, "edit")
    name, summary = name.strip(), summary.strip()
    if not 1 <= len(name) <= 200:
        raise Problem(422, "bad-name", "the name needs 1 to 200 characters", field="name")
    if len(summary) > 5000:
        raise Problem(422, "bad-summary", "the description is at most 5000 characters",
                      field="summary")
    before = {"name": body.name, "summary": body.summary}
    body.name, body.summary = name, summary
    session.add(body)
    tx.audit("body.described", f"body:{body.handle}",
             {"before": before, "name": name, "summary": summary})
    changes.bump(session, changes.BODIES)


def handle_for(session: Session, name: str) -> str:
    """An address for a new body, from its name: "Consejo Comunal El Maizal" ->
    consejo_comunal_el_maizal (a number added if taken). People never type it."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")[:48] or "instancia"
    handle, n = base, 2
    while session.exec(select(LocalActor.id).where(LocalActor.handle == handle)).first():
        handle, n = f"{base}_{n}", n + 1
    return handle


def add_body(tx: Tx, parent: LocalActor, name: str, kind: str,
             public: bool = True) -> LocalActor:
    """A coordinator of `parent` creates a body inside it and coordinates it at first."""
    session, by = tx.session, tx.member
    authz.require_action(session, by, parent, "create_body")
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise Problem(422, "bad-name", "the name needs 1 to 200 characters", field="name")
    if kind not in KINDS or kind == "assembly":
        raise Problem(422, "bad-kind", f"kind must be one of {', '.join(KINDS[1:])}",
                      field="kind")
    if session.exec(select(LocalActor.id).where(LocalActor.parent_id == parent.id,
                                                LocalActor.name == name)).first():
        raise Problem(409, "name-taken", "a body with that name already exists here",
                      field="name")
    made = create_body(tx, parent, handle_for(session, name), name, kind, statute_of(parent),
                       public=public)
    members.grant(tx, by, made, "facilitator")
    changes.bump(session, changes.BODIES)
    return made


def change_statute(tx: Tx, body: LocalActor, statute: Statute) -> None:
    authz.require_action(tx.session, tx.member, body, "set_statute")
    set_statute(tx, body, statute)
    changes.bump(tx.session, changes.BODIES)
