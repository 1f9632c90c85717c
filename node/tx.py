"""One unit of work: the transaction, and what a domain function needs from around it.

A domain function takes a `Tx` and its own arguments only. The `Tx` says:

- `session`: the one transaction everything is written in; the caller commits;
- `who`: the acting identity — a member, one of our bodies acting as itself, a
  remote actor (`remote:<uri>`) or the node's own processing (None). Authority
  checks and the audit log read it from here, so an audit entry names its actor
  one way whatever the entry point;
- `clock`: when "now" is (deadlines, stamps, backoff), injectable in tests;
- `urls`: the node's addresses, so what is published is built from them. There is
  no "do not publish" value: a function that publishes always does.

After-commit work (waking the delivery loop once its rows are durable, a cache
refresh) is asked for here and runs only if the transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.activitypub.urls import Urls
from node.clock import SYSTEM, Clock
from node.errors import Problem
from node.models import LocalActor, Member
from node.storage import aftercommit, audit
from node.storage.audit import Who


@dataclass(frozen=True)
class Tx:
    session: Session
    urls: Urls
    who: Who = None
    clock: Clock = SYSTEM

    def now(self) -> datetime:
        return self.clock.now()

    def acting_as(self, who: Who) -> Tx:
        """The same transaction, another actor: the node recording what a member's
        act set in motion, or a body acting on its own behalf."""
        return replace(self, who=who)

    @property
    def member(self) -> Member:
        """The acting person. Reaching for one where the actor is not a person is a
        bug of the caller, answered as a refusal rather than a crash."""
        if not isinstance(self.who, Member):
            raise Problem(403, "forbidden", "only a member of this node may do this")
        return self.who

    @property
    def body(self) -> LocalActor:
        """The acting body, when one of ours acts as itself."""
        if not isinstance(self.who, LocalActor):
            raise Problem(403, "forbidden", "only a body of this node may do this")
        return self.who

    def audit(self, action: str, subject: str,
              data: dict[str, Any] | None = None) -> None:
        """Record `action` on `subject` in the hash-chained log, by this actor, now."""
        audit.append(self.session, self.who, action, subject, data, at=self.now())

    def wake(self, topic: str) -> None:
        """Wake `topic`'s loop (delivery, inbox, economy) once this commits."""
        aftercommit.wake(self.session, topic)

    def after_commit(self, fn: Callable[[], None]) -> None:
        aftercommit.call(self.session, fn)

    def commit(self) -> None:
        self.session.commit()
