"""The CPU a commune spends on the last hop of a federated matter: its city's
`Announce` of the matter (with the author's proof) taken from the inbox and made
into the commune's own row. In the 112-node benchmark fifty communes do this at once
on two cores, so this is the hop's cost per commune.

    .venv/bin/python bench/matter_hop.py [--matters 200] [--decisions] [--profile FILE]

One node in-process (SQLite), its city and the commune that wrote each matter served by
the tests' fake remote. The first matter (first contact: the actors fetched) is left
out. Each matter is stored through the inbox endpoint, then processed alone
(`InboxProcessor.run_once`), so every one pays a claim, as in the federation (the
graph's warm-up it asks for runs later in a node, node/inbox/warmups.py, and not here); the
figure is the process's CPU time over that processing (threads included), median and
p95 per matter. With --decisions each matter is followed by the city's decision on it
(an `Announce` of the city's signed `Create` of its decision `Note`), and the figure is
the processing of the decision instead: the other hop of the benchmark. --profile writes
a cProfile of the processing (pstats format); so that it sees the database work too, the
processing's threads are then run inline.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import statistics
import tempfile
import time
from asyncio import to_thread
from pathlib import Path
from typing import Any

from common import ROOT  # noqa: F401  (puts the project on the path)
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from node.app import create_app
from node.cli.main import main as cli
from node.config import load_settings, write_config_file
from node.context import build_context
from node.federations import objects
from node.inbox.processor import InboxProcessor
from node.models import FederationLink, InboxItem, LocalActor, Proposal
from node.models.base import utcnow
from tests.fakeremote import start_fake_remote

URL = "http://maizal.test"
ME = f"{URL}/actors/maizal"
AS = "https://www.w3.org/ns/activitystreams"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--matters", type=int, default=200)
    ap.add_argument("--decisions", action="store_true")
    ap.add_argument("--profile", default="")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="matterhop-") as tmp:
        data = Path(tmp) / "node"
        data.mkdir()
        write_config_file(data, {"allow_private_networks": True})
        assert cli(["init", "--data-dir", str(data), "--url", URL, "--handle", "maizal",
                    "--name", "Maizal", "--level", "commune"]) == 0
        settings = load_settings(data)
        remote = start_fake_remote()
        try:
            run(settings, remote, args)
        finally:
            remote.close()


class Sender:
    """The city announcing its author's matters and its own decisions to our inbox."""

    def __init__(self, city: Any, author: Any, client: TestClient) -> None:
        self.city, self.author, self.client, self.n = city, author, client, 0

    def activity(self, who: Any, kind: str, obj: Any, **extra: Any) -> dict[str, Any]:
        self.n += 1
        return dict(who.prove({"@context": AS, "id": f"{who.server.base}/activities/"
                               f"{who.name}-{self.n}", "type": kind, "actor": who.uri,
                               "object": obj, **extra}))

    def announce(self, create: dict[str, Any]) -> None:
        city = self.city
        announce = self.activity(city, "Announce", create, to=[f"{city.uri}/members"])
        body, headers = city.signed_post(f"{ME}/inbox", announce)
        r = self.client.post(f"{ME}/inbox", content=body, headers=headers)
        assert r.status_code == 202, r.text

    def matter(self, k: int) -> None:
        author = self.author
        matter = f"{author.server.base}/objects/matter-{k}"
        stamp = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        self.announce(self.activity(author, "Create", author.prove({
            "@context": AS, **objects.proposal_object(matter, author.uri, f"Ronda {k}",
                                                      "Medir.", [author.uri, ME], 1, stamp)}),
            to=[self.city.uri]))

    def decision(self, k: int) -> None:
        city = self.city
        note = city.prove({"@context": AS, "id": f"{city.server.base}/objects/decision-{k}",
                           "type": "Note", "attributedTo": city.uri, "name": f"Ronda {k}",
                           "content": "<p>Aprobada.</p>",
                           "matter": f"{self.author.server.base}/objects/matter-{k}",
                           "proposalVersion": 1, "outcome": "approved",
                           "to": [AS + "#Public"]})
        self.announce(self.activity(city, "Create", note, to=[AS + "#Public"]))


def run(settings: Any, remote: Any, args: argparse.Namespace) -> None:
    city, author = remote.actor("f"), remote.actor("c")
    remote.docs["/users/c"] = {**author.document(), "memberOf": [city.uri]}
    app = create_app(settings, background=False)

    with TestClient(app, base_url=URL) as client:
        inner: Any = app
        while not hasattr(inner, "state"):
            inner = inner.app
        ctx = inner.state.ctx
        with Session(ctx.engine) as s:
            body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
            s.add(FederationLink(body_id=body.id or 0, remote_uri=city.uri,
                                 direction="member_of", state="accepted",
                                 remote_inbox=f"{city.uri}/inbox"))
            s.commit()
        send = Sender(city, author, client)

        async def inline(func: Any, /, *a: Any, **kw: Any) -> Any:
            return func(*a, **kw)

        async def process() -> list[float]:
            if args.profile:  # cProfile sees one thread: the work in threads comes here
                asyncio.to_thread = inline
            pctx = build_context(settings)
            proc = InboxProcessor(pctx)
            costs: list[float] = []
            profiler = cProfile.Profile() if args.profile else None
            try:
                for k in range(args.matters + 1):
                    await to_thread(send.matter, k)
                    if args.decisions:
                        assert await proc.run_once() == 1, f"matter {k} not processed"
                        await to_thread(send.decision, k)
                    cpu = time.process_time()
                    if profiler and k:
                        profiler.enable()
                    done = await proc.run_once()
                    if profiler and k:
                        profiler.disable()
                    assert done == 1, f"matter {k}: {done} processed"
                    if k:  # matter 0 is the first contact
                        costs.append(time.process_time() - cpu)
            finally:
                await pctx.fetcher.client.aclose()
            if profiler:
                profiler.dump_stats(args.profile)
            return costs

        costs = asyncio.run(process())
        with Session(ctx.engine) as s:
            states = [r.state for r in s.exec(select(InboxItem)).all()]
            decided = len(s.exec(select(Proposal).where(Proposal.final_outcome != "")).all())
        per = 2 if args.decisions else 1
        assert states.count("done") == per * (args.matters + 1), json.dumps(states[:5])
        assert decided == (args.matters + 1 if args.decisions else 0), decided
    ms = sorted(c * 1000 for c in costs)
    what = "decisions" if args.decisions else "matters"
    print(f"{what} processed: {len(ms)}; CPU per {what[:-1]}: median {statistics.median(ms):.1f} ms"
          f", p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, mean {statistics.mean(ms):.1f} ms")


if __name__ == "__main__":
    main()
