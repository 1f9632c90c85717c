"""A small federation of real node processes for end-to-end tests: communes, cities
and a territory, each with a facilitator, joined bottom-up."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import Session, col

from node.models import Proposal
from node.models.base import utcnow
from node.storage.db import make_engine
from tests.procnode import NodeProcess, wait_for

PASSWORD = "contraseña-larga"


class Net:
    def __init__(self, tmp_path: Any, databases: Any) -> None:
        self.tmp, self.dbs = tmp_path, databases
        self.nodes: dict[str, NodeProcess] = {}
        self.heads: dict[str, dict[str, str]] = {}  # facilitator "rosa" of each node
        self.people: dict[tuple[str, str], dict[str, Any]] = {}
        self.levels: dict[str, str] = {}

    # --- building ------------------------------------------------------------------

    def add(self, handle: str, level: str = "commune") -> NodeProcess:
        node = NodeProcess(self.tmp, handle, self.dbs.new(handle), level=level)
        self.nodes[handle], self.levels[handle] = node, level
        return node

    def start(self) -> None:
        for node in self.nodes.values():
            node.launch()
        for node in self.nodes.values():
            node.wait_ready()
        # Side by side: each node's first facilitator comes from a CLI process, which
        # spends most of its time importing.
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(self._first_facilitator, self.nodes))

    def _first_facilitator(self, handle: str) -> None:
        node = self.nodes[handle]
        self.heads[handle] = self._join(node, node.invitation(), "rosa")
        if self.levels[handle] != "commune":
            self.call(handle, "put", f"/api/v1/bodies/{handle}/statute",
                      json={"rule": "majority", "admission": "open", "quorum": "1/2"})

    def _join(self, node: NodeProcess, token: str, username: str) -> dict[str, str]:
        httpx.post(f"{node.url}/api/v1/invitations/{token}/accept",
                   json={"username": username, "password": PASSWORD}).raise_for_status()
        r = httpx.post(f"{node.url}/api/v1/tokens",
                       json={"username": username, "password": PASSWORD})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def person(self, handle: str, username: str) -> dict[str, Any]:
        """Another member of a node's primary body, with their token and id."""
        r = self.call(handle, "post", f"/api/v1/bodies/{handle}/invitations",
                      json={"role": "member"})
        headers = self._join(self.nodes[handle], r["token"], username)
        me = httpx.get(f"{self.nodes[handle].url}/api/v1/me", headers=headers).json()
        self.people[(handle, username)] = {"headers": headers, "id": me["id"]}
        return self.people[(handle, username)]

    def join(self, member: str, federation: str) -> None:
        fed = self.nodes[federation]
        self.call(member, "post", f"/api/v1/bodies/{member}/federations",
                  json={"federation": fed.actor}, expect=202)

    def wait_joined(self, pairs: list[tuple[str, str]]) -> None:
        def done() -> bool:
            for member, federation in pairs:
                items = self.call(member, "get", f"/api/v1/bodies/{member}/federations")
                states = {i["remote"]: i["state"] for i in items["items"]}
                if states.get(self.nodes[federation].actor) != "accepted":
                    return False
            return True

        wait_for(done, 40, "memberships accepted")

    def wait_graph_known(self, pairs: list[tuple[str, str]], level: str) -> None:
        """Until each body's copies of the graph above it say that a matter of it and
        the other is decided at `level`: a federation's new `memberOf` reaches its
        members by an `Update` delivered after the join is accepted."""
        def done() -> bool:
            return all(self.call(here, "get", "/api/v1/deciding-level", params={
                "here": here, "affects": [self.nodes[here].actor, self.nodes[other].actor]})[
                "level"] == self.nodes[level].actor for here, other in pairs)

        wait_for(done, 40, f"every body sees the way up to {level}")

    # --- acting --------------------------------------------------------------------

    def call(self, handle: str, method: str, path: str, headers: dict[str, str] | None = None,
             expect: int | tuple[int, ...] = (200, 201), **kw: Any) -> Any:
        node = self.nodes[handle]
        r = httpx.request(method.upper(), f"{node.url}{path}",
                          headers=headers if headers is not None else self.heads[handle],
                          timeout=30, **kw)
        wanted = (expect,) if isinstance(expect, int) else expect
        assert r.status_code in wanted, (handle, method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def propose(self, handle: str, title: str, affects: list[str]) -> dict[str, Any]:
        p = self.call(handle, "post", f"/api/v1/bodies/{handle}/proposals",
                      json={"title": title, "text": f"{title}: texto completo.",
                            "affects": [self.nodes[a].actor for a in affects]})
        return dict(self.call(handle, "post", f"/api/v1/proposals/{p['id']}/deliberation"))

    def rows(self, handle: str) -> list[dict[str, Any]]:
        return list(self.call(handle, "get", f"/api/v1/bodies/{handle}/proposals?limit=100")[
            "items"])

    def the_row(self, handle: str, matter: str, version: int | None = None) -> dict[str, Any]:
        """`row_for`, when the test expects the row to be there by now."""
        found = self.row_for(handle, matter, version)
        assert found is not None, f"{handle} has no row for {matter} (version {version})"
        return found

    def row_for(self, handle: str, matter: str, version: int | None = None
                ) -> dict[str, Any] | None:
        found = [r for r in self.rows(handle) if r["federated"]
                 and r["federated"]["matter"] == matter
                 and (version is None or r["current_version"] == version)]
        return found[-1] if found else None

    def wait_row(self, handle: str, matter: str, version: int | None = None,
                 what: str = "") -> dict[str, Any]:
        wait_for(lambda: self.row_for(handle, matter, version) is not None, 40,
                 what or f"{handle} has the matter")
        row = self.row_for(handle, matter, version)
        assert row is not None
        return row

    def decide_in_assembly(self, handle: str, proposal_id: int, votes_for: int,
                           against: int) -> dict[str, Any]:
        r = self.call(handle, "post", f"/api/v1/bodies/{handle}/meetings", json={
            "held_at": utcnow().isoformat(), "place": "Casa comunal",
            "attendance": votes_for + against, "families": 1,
            "decisions": [{"proposal_id": proposal_id, "for": votes_for,
                           "against": against}]})
        return dict(r["decisions"][0])

    def mandate(self, handle: str, proposal_id: int, position: str, speakers: list[int],
                amendments: list[str] | None = None, expect: Any = 201) -> Any:
        return self.call(handle, "post", f"/api/v1/proposals/{proposal_id}/mandate",
                         json={"position": position, "spokespersons": speakers,
                               "amendments": amendments or []}, expect=expect)

    def me(self, handle: str) -> int:
        return int(self.call(handle, "get", "/api/v1/me")["id"])

    def open_vote(self, handle: str, proposal_id: int, seconds: int = 3600) -> None:
        """Opened with a deadline far off: the test closes it with close_vote once the
        ballots it waits for are counted, never by racing a real deadline."""
        closes = (utcnow() + timedelta(seconds=seconds)).isoformat()
        self.call(handle, "post", f"/api/v1/proposals/{proposal_id}/vote",
                  json={"closes_at": closes})

    def counted(self, handle: str, proposal_id: int) -> dict[str, str]:
        """The mandated votes a federation counts now: member body -> choice."""
        items = self.call(handle, "get",
                          f"/api/v1/proposals/{proposal_id}/mandated-votes")["items"]
        return {v["member_body"]: v["choice"] for v in items if v["state"] == "counted"}

    def close_vote(self, handle: str, proposal_id: int) -> dict[str, Any]:
        """Close an open vote now and return its decision. The deadline is brought
        forward in the node's own database (the test's clock), then the vote is closed
        through the API as a facilitator would once it is due; the node's vote clock
        may close it first, which is the same decision."""
        engine = make_engine(self.nodes[handle].db_url)
        try:
            with Session(engine) as session:
                session.execute(update(Proposal).where(col(Proposal.id) == proposal_id)
                                .values(closes_at=utcnow() - timedelta(seconds=1)))
                session.commit()
        finally:
            engine.dispose()
        self.call(handle, "post", f"/api/v1/proposals/{proposal_id}/close", expect=(200, 409))
        wait_for(lambda: self.call(handle, "get", f"/api/v1/proposals/{proposal_id}")[
            "decision_id"] is not None, 30, f"{handle} decided")
        row = self.call(handle, "get", f"/api/v1/proposals/{proposal_id}")
        return dict(self.call(handle, "get", f"/api/v1/decisions/{row['decision_id']}"))

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()


NORTE, SUR, TERRITORIO = "ciudad_norte", "ciudad_sur", "territorio"


def seven_nodes(tmp_path_factory: pytest.TempPathFactory, prefix: str) -> Iterator[Net]:
    """The test federation: Maizal, Cumbe and Sabana in Ciudad Norte, Llano in Ciudad
    Sur, both cities in the territory; all memberships accepted. A generator for
    the session fixture `federation` (tests/conftest.py): yields the Net, then stops
    every node."""
    from tests.conftest import Databases

    dbs = Databases(tmp_path_factory.mktemp(f"{prefix}-db"))
    n = Net(tmp_path_factory.mktemp(prefix), dbs)
    n.add(TERRITORIO, "territory")
    n.add(NORTE, "city")
    n.add(SUR, "city")
    for c in ("maizal", "cumbe", "sabana", "llano"):
        n.add(c)
    try:
        n.start()
        pairs = [(c, NORTE) for c in ("maizal", "cumbe", "sabana")] + [
            ("llano", SUR), (NORTE, TERRITORIO), (SUR, TERRITORIO)]
        for member, federation in pairs:
            n.join(member, federation)
        n.wait_joined(pairs)
        n.wait_graph_known([("maizal", "llano"), ("cumbe", "llano"), ("sabana", "llano"),
                            ("llano", "maizal")], TERRITORIO)
        yield n
    finally:
        n.stop()
        dbs.drop_all()
