"""Building blocks for the fault campaign (tests/test_fault_campaign.py): nodes that sit
behind a fault proxy, a small federation of them, the federated decision as one
function, and what the test reads straight from a node's database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from node.activitypub.identity import primary_actor
from node.activitypub.urls import Urls
from node.config import load_settings
from node.demo.nodes import free_port
from node.governance import bodies, members
from node.outbox.publish import post_note
from node.storage.db import make_engine
from node.tx import Tx
from tests.faultproxy import FaultProxy
from tests.fednet import Net
from tests.procnode import NodeProcess, wait_for


class ProxiedNode(NodeProcess):
    """A node whose public URL (the one in its actor documents, what every peer dials)
    is a fault proxy's port; the node itself serves on another port, which is what
    `url` names here so the test's own API calls bypass the faults."""

    def __init__(self, root: Path, handle: str, db_url: str, level: str = "commune",
                 extra_env: dict[str, str] | None = None) -> None:
        super().__init__(root, handle, db_url, level, extra_env)
        self.public_url = self.url
        public_port = self.port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proxy = FaultProxy(public_port, self.port).start()

    @property
    def actor(self) -> str:
        return f"{self.public_url}/actors/{self.handle}"

    @property
    def host(self) -> str:
        """The host other nodes key their deliveries and breakers by."""
        return self.public_url.split("://", 1)[1]

    def close(self) -> None:
        self.stop()
        self.proxy.stop()


class FaultNet(Net):
    """A `Net` where chosen nodes sit behind fault proxies and every node gets `env`."""

    def __init__(self, tmp_path: Any, databases: Any, env: dict[str, str]) -> None:
        super().__init__(tmp_path, databases)
        self.env = env

    def add(self, handle: str, level: str = "commune",
            proxied: bool = False) -> NodeProcess:
        cls = ProxiedNode if proxied else NodeProcess
        node = cls(self.tmp, handle, self.dbs.new(handle), level=level, extra_env=self.env)
        self.nodes[handle], self.levels[handle] = node, level
        return node

    def start(self) -> None:
        """As `Net.start`, with invitations made in this process rather than by a
        `comuna invite` process each (seconds saved per node). One node after another:
        starting them side by side on two busy cores only made each slower."""
        for handle, node in self.nodes.items():
            node.start()
            self.heads[handle] = self._join(node, invite(node), "rosa")
            if self.levels[handle] != "commune":
                self.call(handle, "put", f"/api/v1/bodies/{handle}/statute",
                          json={"rule": "majority", "admission": "open", "quorum": "1/2"})

    def proxied(self, handle: str) -> ProxiedNode:
        node = self.nodes[handle]
        assert isinstance(node, ProxiedNode)
        return node

    def stop(self) -> None:
        for node in self.nodes.values():
            if isinstance(node, ProxiedNode):
                node.close()
            else:
                node.stop()


# --- the federated decision -----------------------------------------------------------

def decide_across(n: Net, city: str, communes: tuple[str, str], title: str,
                  count_within: float = 60.0) -> dict[str, Any]:
    """escalation → mandate → vote → decision: a matter of two communes rises from the
    first to their city, each commune decides in assembly and mandates its spokesperson,
    both vote at the city, and the city's decision comes back down to both."""
    first, other = communes
    p = n.propose(first, title, [first, other])
    assert p["federated"]["escalation"] == "sent", p
    matter = p["federated"]["matter"]
    city_row = n.wait_row(city, matter, what="the city took the matter")
    rows = {c: n.wait_row(c, matter, 1) for c in communes}
    # The proposal becomes the first commune's position once the city's Announce says
    # the city took it; only then does it take a mandate.
    wait_for(lambda: (n.row_for(first, matter, 1) or {})["federated"]["escalation"] == "taken",
             60, f"{first} sees its matter taken")
    for c in communes:
        n.decide_in_assembly(c, rows[c]["id"], 20, 3)
        n.mandate(c, rows[c]["id"], "approve", [n.me(c)])

    def live() -> list[dict[str, Any]]:
        items = n.call(city, "get", f"/api/v1/proposals/{city_row['id']}/mandates")["items"]
        return [m for m in items if m["state"] == "live"]

    wait_for(lambda: len(live()) == 2, 60, "both mandates at the city")
    n.open_vote(city, city_row["id"])
    for c in communes:
        mine = [m for m in n.call(c, "get", f"/api/v1/proposals/{rows[c]['id']}/mandates")[
            "items"] if m["state"] == "live" and m["member_body"] == n.nodes[c].actor]
        n.call(c, "post", f"/api/v1/mandates/{mine[0]['id']}/vote", json={"choice": "for"},
               expect=202)
    wait_for(lambda: len(n.counted(city, city_row["id"])) == 2, count_within,
             "both votes counted")
    decision = n.close_vote(city, city_row["id"])
    for c in communes:
        wait_for(lambda c=c: (n.row_for(c, matter, 1) or {}).get("federated", {}).get(
            "final_outcome") == decision["outcome"], 60, f"{c} records the decision")
    return {"matter": matter, "city_row": city_row, "rows": rows, "decision": decision}


# --- reading a node's database ----------------------------------------------------------

def sql(node: NodeProcess, query: str, **params: Any) -> list[Any]:
    engine = make_engine(load_settings(node.data_dir).effective_database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(query), params))
    finally:
        engine.dispose()


def invite(node: NodeProcess) -> str:
    """A facilitator's invitation to the node's primary body, as `comuna invite` makes."""
    settings = load_settings(node.data_dir)
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine) as s:
            body = bodies.body_by_handle(s, node.handle)
            raw = members.invite(Tx(s, Urls(settings.url)), body, "facilitator", 7)
            s.commit()
        return raw
    finally:
        engine.dispose()


def post_notes(node: NodeProcess, texts: list[str]) -> list[str]:
    """Publish notes to the node's followers in one transaction, as `comuna post` does
    one at a time (without starting a process per note); returns the activity ids. The
    node's delivery worker finds them on its next poll."""
    settings = load_settings(node.data_dir)
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine) as s:
            actor = primary_actor(s)
            assert actor is not None
            ids = [post_note(Tx(s, Urls(settings.url)), actor, t).activity_id for t in texts]
            s.commit()
        return ids
    finally:
        engine.dispose()


def received(node: NodeProcess, ids: list[str] | set[str]) -> dict[str, str]:
    """Which of these activities the node has stored, and each one's state."""
    wanted = set(ids)
    return {r[0]: r[1] for r in sql(node, "select activity_id, state from inbox_item")
            if r[0] in wanted}


def deliveries_to(node: NodeProcess, host: str) -> list[tuple[str, int]]:
    """(state, attempts) of every delivery row the node holds for a host."""
    return [(r[0], r[1]) for r in sql(node, "select state, attempts from delivery "
                                            "where host = :h", h=host)]


def audit_count(node: NodeProcess, action: str, **match: str) -> int:
    found = 0
    for (data,) in sql(node, "select data from audit_entry where action = :a", a=action):
        d = json.loads(data)
        found += all(d.get(k) == v for k, v in match.items())
    return found
