"""What a facilitator needs to see about federation: backlog, failures, dead hosts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, case, func
from sqlmodel import Session, col, select

from node.activitypub.hosts import host_key
from node.models import Delivery, InboxItem, PeerHost
from node.storage import aftercommit, changes


def federation_status(engine: Engine) -> dict[str, Any]:
    with Session(engine) as s:
        by_state = dict(s.exec(select(Delivery.state, func.count())
                               .group_by(col(Delivery.state))).all())
        inbox_state = dict(s.exec(select(InboxItem.state, func.count())
                                  .group_by(col(InboxItem.state))).all())
        state = col(Delivery.state)
        per_host = s.exec(
            select(
                Delivery.host,
                func.sum(case((state == "queued", 1), else_=0)),
                func.sum(case((state == "failed", 1), else_=0)),
                func.sum(case((state == "delivered", 1), else_=0)),
            ).group_by(col(Delivery.host)).order_by(col(Delivery.host))
        ).all()
        peers = {p.host: p for p in s.exec(select(PeerHost)).all()}
    hosts = []
    for host, queued, failed, delivered in per_host:
        peer = peers.get(host)
        hosts.append({
            "host": host,
            "queued": int(queued or 0),
            "failed": int(failed or 0),
            "delivered": int(delivered or 0),
            "consecutive_failures": peer.consecutive_failures if peer else 0,
            "circuit": peer.breaker if peer else "closed",
            "circuit_trips": peer.trips if peer else 0,
            "circuit_open_until": _iso(peer.open_until) if peer else None,
            "last_error": peer.last_error if peer else "",
            "last_error_at": _iso(peer.last_error_at) if peer else None,
            "blocked": peer.blocked if peer else False,
        })
    return {
        "delivery": {
            "queued": int(by_state.get("queued", 0)),
            "delivered": int(by_state.get("delivered", 0)),
            "failed": int(by_state.get("failed", 0)),
        },
        "inbox": {
            "queued": int(inbox_state.get("queued", 0)),
            "done": int(inbox_state.get("done", 0)),
            "failed": int(inbox_state.get("failed", 0)),
        },
        "hosts": hosts,
        "blocked_hosts": sorted(h for h, p in peers.items() if p.blocked),
    }


def _iso(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def set_blocked(engine: Engine, host: str, blocked: bool) -> None:
    key = host_key(host) or host.lower()
    with Session(engine) as s:
        peer = s.get(PeerHost, key) or PeerHost(host=key)
        peer.blocked = blocked
        s.add(peer)
        # Every process of this node honours it within a second (the change feed).
        changes.bump(s, changes.BLOCKS)
        if not blocked:
            # The host's queue may go now: the delivery workers sleep until told.
            aftercommit.wake(s, "delivery")
        s.commit()


def retry_failed(engine: Engine, host: str | None = None) -> int:
    """Put parked deliveries back in the queue (after a peer is fixed)."""
    from sqlalchemy import update

    from node.models.base import utcnow

    stmt = update(Delivery).where(col(Delivery.state) == "failed")
    if host:
        stmt = stmt.where(col(Delivery.host) == (host_key(host) or host.lower()))
    with Session(engine) as s:
        res = s.execute(stmt.values(state="queued", attempts=0, next_attempt_at=utcnow()))
        aftercommit.wake(s, "delivery")
        s.commit()
        return int(getattr(res, "rowcount", 0) or 0)
