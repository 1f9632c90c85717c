"""What an arriving activity is, and who may send it: the inbox's authority table.

`classify` is a pure function of the activity's shape (no database, no network): the
first row of `SHAPES` that matches names its kind. `RULES` says, for each kind, which
relation the verified sender must have to the receiving body; `node.inbox.authority`
checks it, in one place, before any handler runs. docs/federation.md prints the same
table, and tests/test_authority_matrix.py sends every kind from every relation.

The sender is the actor whose key signed the HTTP request (the last hop), never what
the activity says of itself; a relayed activity's author is checked separately, by its
own proof, by the endpoint and the handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    follow = "follow"
    undo = "undo"
    follow_answer = "follow-answer"
    join_request = "join"
    join_answer = "join-answer"
    leave = "leave"
    actor_update = "actor-update"
    actor_delete = "actor-delete"
    matter_up = "matter-up"
    matter_down = "matter-down"
    matter_version = "matter-version"
    amendment = "amendment"
    vote_opened = "vote-opened"
    decision = "decision"
    decision_down = "decision-down"
    mandate = "mandate"
    mandated_vote = "mandated-vote"
    delete = "delete"
    intent = "intent"
    exchange_offer = "exchange-offer"
    agreement = "agreement"
    delivery = "delivery"
    commitment_cancel = "commitment-cancel"
    plan = "plan"
    answer = "answer"
    project_record = "project-record"
    project_down = "project-down"
    other = "other"


class Relation(StrEnum):
    """What the sender must be to the receiving body (see `RULES`)."""

    anyone = "anyone"
    # The Undo's Follow was made by the sender.
    own_follow = "own-follow"
    # The sender has an accepted membership in the receiving body (we admitted it).
    member_body = "member-body"
    # The receiving body has an accepted membership in the sender.
    federation = "federation"
    # Either of the two above.
    linked = "linked"
    # The receiving body asked the sender to join it (the Join being answered).
    asked_federation = "asked-federation"
    # The receiving body asked to follow the sender (the Follow being answered).
    followed = "followed"
    # The proposer of the exchange whose agreement this is.
    exchange_proposer = "exchange-proposer"
    # The giver or receiver of the commitment, or who proposed its exchange or plan.
    commitment_party = "commitment-party"
    # The plan's author, linked to the receiving body or in one of its federations.
    plan_initiator = "plan-initiator"
    # Whoever the answered object was sent to, or a party to it (resolved from it).
    addressee = "addressee"


@dataclass(frozen=True)
class Rule:
    relation: Relation
    # Tell a refused sender why with a `Reject` (our own vocabulary); noise from the
    # wider fediverse (a Delete of some account) is only recorded, never answered.
    answer_refusal: bool
    why: str
    # Whether another node may pass it on (its author's own proof then speaks for the
    # author); otherwise the sender must be the activity's actor.
    relayed: bool = False


RULES: dict[Kind, Rule] = {
    Kind.follow: Rule(Relation.anyone, False,
                      "a body's record is public: anyone may follow it"),
    Kind.undo: Rule(Relation.own_follow, False, "only the follower takes its Follow back"),
    Kind.follow_answer: Rule(Relation.followed, False,
                             "only the actor we asked to follow answers our Follow"),
    Kind.join_request: Rule(Relation.anyone, True,
                    "any body may ask to join; the statute or the facilitators decide"),
    Kind.join_answer: Rule(Relation.asked_federation, True,
                           "only the federation we asked answers our Join"),
    Kind.leave: Rule(Relation.member_body, True, "only a member body leaves"),
    Kind.actor_update: Rule(Relation.anyone, False,
                            "an actor's own Update: it is fetched again from its origin"),
    Kind.actor_delete: Rule(Relation.anyone, False,
                            "an account deleted by itself: it follows nobody here any more"),
    Kind.matter_up: Rule(Relation.member_body, True,
                         "a matter rises only from a member body (its own or passed on)",
                         relayed=True),
    Kind.matter_down: Rule(Relation.federation, True,
                           "a matter comes down only from one of the body's federations"),
    Kind.matter_version: Rule(Relation.federation, True,
                              "a new version comes only from a federation of the body "
                              "that decides the matter"),
    Kind.amendment: Rule(Relation.federation, True,
                         "an amendment is announced only by a federation of the body (the "
                         "one its copy of the matter answers to)"),
    Kind.vote_opened: Rule(Relation.federation, True,
                           "a vote on a matter is opened only by a federation of the body "
                           "(the one its copy of the matter answers to)"),
    # A decision is also published to followers: a body that follows some federation
    # not its own gets it as a public Note, which is kept, not answered.
    Kind.decision: Rule(Relation.federation, False,
                        "a decision comes only from a federation of the body"),
    Kind.decision_down: Rule(Relation.federation, True,
                             "a decision is passed down only by a federation of the body"),
    Kind.mandate: Rule(Relation.member_body, True,
                       "only a member body gives a mandate, for itself"),
    Kind.mandated_vote: Rule(Relation.member_body, True,
                             "only a member body votes, under its own mandate"),
    Kind.delete: Rule(Relation.member_body, False,
                      "only a member body recalls its own mandate"),
    Kind.intent: Rule(Relation.member_body, True,
                      "offers and needs rise only from member bodies", relayed=True),
    Kind.exchange_offer: Rule(Relation.federation, True,
                              "only a federation of the body proposes an exchange to it"),
    Kind.agreement: Rule(Relation.exchange_proposer, True,
                         "only the exchange's proposer seals its agreement"),
    Kind.delivery: Rule(Relation.commitment_party, True,
                        "only a side of the commitment (or its relaying proposer) "
                        "records a delivery", relayed=True),
    Kind.commitment_cancel: Rule(Relation.commitment_party, True,
                                 "only a side of the commitment (or its relaying proposer) "
                                 "calls it off", relayed=True),
    Kind.plan: Rule(Relation.plan_initiator, True,
                    "a joint plan comes from its author, linked to the body or in one of "
                    "its federations"),
    Kind.answer: Rule(Relation.addressee, True,
                      "an Accept or Reject comes only from whom the answered thing was "
                      "sent to, or a party to it", relayed=True),
    Kind.project_record: Rule(Relation.linked, True,
                              "project records come from member bodies and federations",
                              relayed=True),
    Kind.project_down: Rule(Relation.federation, True,
                            "a federation passes project records down to its members"),
    Kind.other: Rule(Relation.anyone, False, "kept as stored; nothing acts on it", relayed=True),
}


# --- shapes ------------------------------------------------------------------------


def _obj(activity: dict[str, Any]) -> Any:
    return activity.get("object")


def _type(value: Any) -> Any:
    return value.get("type") if isinstance(value, dict) else None


def _is_intent(obj: Any) -> bool:
    # FEP-0837 proposals publish an intent; a federated matter's Proposal does not.
    return isinstance(obj, dict) and obj.get("type") == "Proposal" and "publishes" in obj


def _is_matter(obj: Any) -> bool:
    return _type(obj) == "Proposal" and not _is_intent(obj)


def _is_decision(obj: Any) -> bool:
    return _type(obj) == "Note" and isinstance(obj, dict) and "matter" in obj


def _is_record(obj: Any) -> bool:
    return _type(obj) == "Article" and isinstance(obj, dict) and "lessons" in obj


def _inner(activity: dict[str, Any]) -> dict[str, Any]:
    obj = _obj(activity)
    return obj if isinstance(obj, dict) else {}


def _is(*types: str) -> Callable[[dict[str, Any]], bool]:
    return lambda a: a.get("type") in types


def _answer_of(otype: str) -> Callable[[dict[str, Any]], bool]:
    return lambda a: a.get("type") in ("Accept", "Reject") and _type(_obj(a)) == otype


def _announced(test: Callable[[Any], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda a: a.get("type") == "Announce" and \
        _type(_obj(a)) in ("Create", "Update") and test(_inner(a).get("object"))


def _carries(types: tuple[str, ...], test: Callable[[Any], bool]
             ) -> Callable[[dict[str, Any]], bool]:
    return lambda a: a.get("type") in types and test(_obj(a))


def _of_type(*types: str) -> Callable[[Any], bool]:
    return lambda obj: _type(obj) in types


def _own_actor_update(a: dict[str, Any]) -> bool:
    obj, actor = _obj(a), a.get("actor")
    actor_id = actor.get("id") if isinstance(actor, dict) else actor
    return a.get("type") == "Update" and isinstance(obj, dict) and \
        bool(actor_id) and obj.get("id") == actor_id


def _vote_opening(obj: Any) -> bool:
    # A federation's notice to its members (a public poll carries no `matter`).
    return isinstance(obj, dict) and obj.get("type") == "Question" and bool(obj.get("matter"))


def _own_actor_delete(a: dict[str, Any]) -> bool:
    obj, actor = a.get("object"), a.get("actor")
    actor_id = actor.get("id") if isinstance(actor, dict) else actor
    obj_id = obj.get("id") if isinstance(obj, dict) else obj
    return a.get("type") == "Delete" and bool(actor_id) and obj_id == actor_id


def _agreement(a: dict[str, Any]) -> bool:
    return a.get("type") == "Accept" and _type(a.get("result")) == "Agreement"


def _answer_by_id(a: dict[str, Any]) -> bool:
    # What is answered is named by its id (given alone or inline); what it names is
    # looked up by the authority and the handler.
    obj = _obj(a)
    named = obj.get("id") if isinstance(obj, dict) else obj
    return a.get("type") in ("Accept", "Reject") and isinstance(named, str) and bool(named)


# Order matters: the first shape that matches wins.
SHAPES: list[tuple[Callable[[dict[str, Any]], bool], Kind]] = [
    (_announced(_is_matter), Kind.matter_down),
    (_announced(_is_decision), Kind.decision_down),
    (_announced(_is_record), Kind.project_down),
    (_carries(("Create", "Update"), _is_intent), Kind.intent),
    (_carries(("Create",), _is_matter), Kind.matter_up),
    (_carries(("Update",), _is_matter), Kind.matter_version),
    (_carries(("Create",), _is_decision), Kind.decision),
    (_carries(("Create", "Update"), _of_type("Amendment")), Kind.amendment),
    (_carries(("Create",), _vote_opening), Kind.vote_opened),
    (_carries(("Create",), _of_type("Mandate")), Kind.mandate),
    (_carries(("Create",), _of_type("MandatedVote")), Kind.mandated_vote),
    (_carries(("Create",), _is_record), Kind.project_record),
    (_carries(("Offer",), _of_type("Agreement")), Kind.exchange_offer),
    (_agreement, Kind.agreement),
    (_carries(("Create", "Offer"), _of_type("EconomicEvent")), Kind.delivery),
    (_carries(("Update", "Create", "Offer"), _of_type("Commitment")), Kind.commitment_cancel),
    (_carries(("Create", "Update", "Offer"), _of_type("Plan")), Kind.plan),
    (_answer_of("Follow"), Kind.follow_answer),
    (_answer_of("Join"), Kind.join_answer),
    (_answer_by_id, Kind.answer),
    (_is("Follow"), Kind.follow),
    (_is("Undo"), Kind.undo),
    (_is("Join"), Kind.join_request),
    (_is("Leave"), Kind.leave),
    (_own_actor_update, Kind.actor_update),
    (_own_actor_delete, Kind.actor_delete),
    (_is("Delete"), Kind.delete),
]


def classify(activity: dict[str, Any]) -> Kind:
    """The kind of an activity, from its shape alone."""
    for test, kind in SHAPES:
        if test(activity):
            return kind
    return Kind.other
