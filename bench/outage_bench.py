"""A follower's outage and the sender's restart, timed (issue 11, first performance
target: "after a receiver's 25 s outage, every queued activity arrives within 40 s of
its return; after the sender's restart, within 40 s of the restart").

    .venv/bin/python bench/outage_bench.py [--rounds 3] [--outage 25]
        [--scenarios outage-503,outage-refused,restart-down,restart-slow]
        [--python /tmp/rtvenv/bin/python] [--log-level INFO] [--verbose]

Each run has a fresh data directory: `comuna init`, one follower written straight into
the database with its inbox on a scripted sink (bench/sink.py --script), `comuna serve`
started as the README starts it (one process, default settings; only
COMUNA_ALLOW_PRIVATE_NETWORKS=1 so it may deliver to loopback). Once the node answers
/healthz and has stopped using CPU:

- outage-503 / outage-refused: the follower's inbox answers 503 (or its port refuses
  connections, as a peer that is restarting) for `--outage` seconds, during which the
  node posts 10 notes (`comuna post`, one after the other, from the outage's start);
  then the inbox accepts again. Measured: from the inbox's return to the last of the
  10 arrivals (answered 202).
- restart-down / restart-slow: the follower's port refuses connections (down) or reads
  each request and never answers (slow, so the deliveries are in flight); 5 notes are
  posted; once all 5 are held back (down: rows at rest after an attempt and the
  host's breaker open; slow: 5 requests hanging at the follower) the node is
  SIGKILLed, the follower accepts again, and the node is started once more. Measured
  from the process start, and from /healthz answering, to the last of the 5 arrivals.

Every run also checks that each activity was answered 202 exactly once (a request
left hanging by the kill is not an arrival) and that every delivery row ends
`delivered`. A run that misses the target prints what the node's tables held (the
host's breaker columns and each row's attempts, next_attempt_at, lease and error).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import ROOT, free_port, init_node, median, wait_healthy

if TYPE_CHECKING:  # mypy knows bench/ as a package; the script runs with bench/ on sys.path
    from bench.common import SinkProcess
else:
    from common import SinkProcess
from fanout_bench import RTVENV, command, node_env, wait_idle

HANDLE = "outage"
TARGET = 40.0
SCENARIOS = ("outage-503", "outage-refused", "restart-down", "restart-slow")


class ScriptedSink(SinkProcess):
    """bench/sink.py --script on one port."""

    def __init__(self, port: int) -> None:
        self.port = port
        super().__init__("--script", str(port))

    def ask(self, line: str) -> dict[str, Any]:
        answer = super().ask(line)
        if "error" in answer:
            raise RuntimeError(f"sink: {answer['error']}")
        return answer

    def mode(self, mode: str) -> None:
        self.ask(f"mode {self.port} {mode}")

    def log(self) -> list[list[Any]]:
        return list(self.ask("log")["log"])


# -- what the node's tables say ------------------------------------------------------------

def _query(db_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(db_path, timeout=30)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def _in(stamp: str | None, now: datetime) -> str:
    """A stored UTC time as seconds from now (+ is later)."""
    if not stamp:
        return "-"
    at = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
    return f"{(at - now).total_seconds():+.1f} s"


def queue_state(db_path: Path, host: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    peer = _query(db_path, "select breaker, consecutive_failures, trips, open_until, "
                  "probe_id, probe_until, last_error from peer_host where host = ?", host)
    rows = _query(db_path, "select id, state, attempts, next_attempt_at, lease_until, "
                  "last_status, last_error from delivery where host = ? order by id", host)
    out: dict[str, Any] = {"rows": [
        {"id": r[0], "state": r[1], "attempts": r[2], "next_attempt": _in(r[3], now),
         "lease": _in(r[4], now), "status": r[5], "error": (r[6] or "")[:60]} for r in rows]}
    if peer:
        b, failures, trips, open_until, probe_id, probe_until, error = peer[0]
        out["peer"] = {"breaker": b, "failures": failures, "trips": trips,
                       "open_until": _in(open_until, now), "probe_id": probe_id,
                       "probe_until": _in(probe_until, now), "error": (error or "")[:60]}
    return out


def expected_ids(db_path: Path, host: str) -> set[str]:
    return {r[0] for r in _query(db_path, "select o.activity_id from delivery d join "
                                 "outbox_item o on o.id = d.outbox_id where d.host = ?",
                                 host)}


def held_at_rest(db_path: Path, host: str, count: int) -> bool:
    state = queue_state(db_path, host)
    rows = [r for r in state["rows"] if r["state"] == "queued"]
    return (len(rows) >= count and all(r["attempts"] >= 1 and r["lease"] == "-" for r in rows)
            and state.get("peer", {}).get("breaker") == "open")


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


# -- one run -------------------------------------------------------------------------------

class Run:
    """A fresh node with one follower on the sink's port."""

    def __init__(self, args: argparse.Namespace, tmp: Path, sink: ScriptedSink,
                 label: str) -> None:
        self.args = args
        self.sink = sink
        self.cmd = command(args.python)
        self.data_dir = tmp / f"{label}-{time.monotonic_ns()}"
        self.data_dir.mkdir()
        self.port = free_port()
        with contextlib.redirect_stdout(sys.stderr if args.verbose else io.StringIO()):
            self.url = init_node(self.data_dir, self.port, HANDLE)
        self.db = self.data_dir / "comuna.sqlite3"
        self.host = f"127.0.0.1:{sink.port}"
        inbox = f"http://{self.host}/u/0"
        db = sqlite3.connect(self.db, timeout=30)
        actor_id = db.execute("select id from local_actor where is_primary").fetchone()[0]
        db.execute("insert into follower (actor_id, follower_uri, inbox, shared_inbox, "
                   "follow_activity_id, created_at) values (?, ?, ?, '', '', ?)",
                   (actor_id, inbox, f"{inbox}/inbox", "2026-01-01 00:00:00.000000"))
        db.commit()
        db.close()
        self.env = node_env(args.log_level)
        self.log = (self.data_dir / "node.log").open("ab")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Starts `comuna serve`; returns when it answered /healthz (monotonic)."""
        self.log.write(f"--- start at monotonic {time.monotonic():.3f}\n".encode())
        self.log.flush()
        self.proc = subprocess.Popen([*self.cmd, "serve", "--data-dir", str(self.data_dir),
                                      "--port", str(self.port)], env=self.env, cwd=ROOT,
                                     stdout=self.log, stderr=self.log)
        wait_healthy(self.url, self.proc, timeout=60)
        return time.monotonic()

    def post(self, text: str) -> None:
        subprocess.run([*self.cmd, "post", "--data-dir", str(self.data_dir), text],
                       env=self.env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
        self.log.close()

    def arrivals(self, count: int, since: float) -> dict[str, Any]:
        """Waits for `count` activities answered 202, lets a moment pass for a late
        duplicate, and counts what the follower got."""
        self.sink.ask(f"accepted {count} {self.args.timeout}")
        time.sleep(self.args.grace)
        log = self.sink.log()
        ids = expected_ids(self.db, self.host)
        accepted = Counter(r[1] for r in log if r[3] == 202)
        first_202 = {}
        for _, aid, at, status in log:
            if status == 202 and aid not in first_202:
                first_202[aid] = at
        got = [first_202[i] for i in ids if i in first_202]
        states = Counter(r["state"] for r in queue_state(self.db, self.host)["rows"])
        return {
            "ids": len(ids),
            "arrived": len(got),
            "last": (max(got) - since) if len(got) == len(ids) == count else float("inf"),
            "first": (min(got) - since) if got else float("inf"),
            "once": len(ids) == count and all(accepted[i] == 1 for i in ids)
            and set(accepted) <= ids,
            "requests": len(log),
            "unanswered": sum(1 for r in log if r[3] is None),
            "refused_503": sum(1 for r in log if r[3] == 503),
            "rows": dict(states),
        }


def outage(args: argparse.Namespace, tmp: Path, sink: ScriptedSink, kind: str,
           n: int) -> dict[str, Any]:
    run = Run(args, tmp, sink, f"outage-{kind}")
    try:
        run.start()
        wait_idle([run.proc] if run.proc else [])
        sink.ask("reset")
        sink.mode(kind)
        down = time.monotonic()
        for i in range(args.notes):
            run.post(f"round {n} {kind} note {i}")
        posted = time.monotonic() - down
        time.sleep(max(0.0, down + args.outage - time.monotonic()))
        at_return = queue_state(run.db, run.host)
        sink.mode("accept")
        back = time.monotonic()
        result = run.arrivals(args.notes, back)
        result.update(posted=posted, at_return=at_return, data_dir=str(run.data_dir))
        return result
    finally:
        run.close()
        sink.mode("accept")


def restart(args: argparse.Namespace, tmp: Path, sink: ScriptedSink, kind: str,
            n: int) -> dict[str, Any]:
    run = Run(args, tmp, sink, f"restart-{kind}")
    count = args.queued
    try:
        run.start()
        wait_idle([run.proc] if run.proc else [])
        sink.ask("reset")
        sink.mode("closed" if kind == "down" else "hang")
        for i in range(count):
            run.post(f"round {n} restart-{kind} note {i}")
        if kind == "down":
            wait_until(lambda: held_at_rest(run.db, run.host, count), 60,
                       "deliveries held back, breaker open")
        else:
            wait_until(lambda: sum(1 for r in sink.log() if r[3] is None) >= count, 60,
                       "deliveries hanging at the follower")
        before_kill = queue_state(run.db, run.host)
        run.kill()
        sink.mode("accept")
        started = time.monotonic()
        healthy = run.start()
        result = run.arrivals(count, started)
        result.update(healthy=healthy - started, before_kill=before_kill,
                      after_healthy=result["last"] - (healthy - started),
                      data_dir=str(run.data_dir))
        return result
    finally:
        run.close()
        sink.mode("accept")


def one(args: argparse.Namespace, tmp: Path, sink: ScriptedSink, scenario: str,
        n: int) -> dict[str, Any]:
    if scenario.startswith("outage-"):
        kind = {"outage-503": "503", "outage-refused": "closed"}[scenario]
        return outage(args, tmp, sink, kind, n)
    return restart(args, tmp, sink, scenario.removeprefix("restart-"), n)


# -- report --------------------------------------------------------------------------------

def row(label: str, values: list[float]) -> str:
    runs = ", ".join(f"{v:.1f}" for v in values)
    worst = max(values)
    verdict = "met" if worst <= TARGET else "**not met**"
    return f"| {label} | {runs} | **{median(values):.1f}** | {worst:.1f} | {verdict} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--outage", type=float, default=25.0, help="seconds the follower is away")
    ap.add_argument("--notes", type=int, default=10, help="notes posted during the outage")
    ap.add_argument("--queued", type=int, default=5, help="deliveries queued at the kill")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--python", default=str(RTVENV) if RTVENV.exists() else sys.executable)
    ap.add_argument("--timeout", type=float, default=150.0,
                    help="seconds to wait for every arrival")
    ap.add_argument("--grace", type=float, default=3.0,
                    help="seconds to wait after the last arrival for a duplicate")
    ap.add_argument("--log-level", default="",
                    help="COMUNA_LOG_LEVEL for the node (default: the node's)")
    ap.add_argument("--verbose", action="store_true",
                    help="print every run's table snapshot, and what `comuna init` prints")
    args = ap.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    if any(s not in SCENARIOS for s in scenarios):
        ap.error(f"--scenarios takes {', '.join(SCENARIOS)}")
    tmp = Path(tempfile.mkdtemp(prefix="comuna-outage-"))
    sink = ScriptedSink(free_port())
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in scenarios}
    loads: list[float] = []
    try:
        for n in range(1, args.rounds + 1):
            for scenario in scenarios:
                loads.append(os.getloadavg()[0])
                r = one(args, tmp, sink, scenario, n)
                results[scenario].append(r)
                timing = (f"last arrival {r['last']:.1f} s after the return, first "
                          f"{r['first']:.1f} s, {r['refused_503']} answered 503, notes "
                          f"posted in {r['posted']:.1f} s" if "posted" in r else
                          f"last arrival {r['last']:.1f} s after the process start, "
                          f"{r['after_healthy']:.1f} s after /healthz ({r['healthy']:.1f} s "
                          f"to answer), {r['unanswered']} left hanging")
                print(f"round {n} {scenario}: {timing}; {r['arrived']}/{r['ids']} arrived, "
                      f"exactly once: {'yes' if r['once'] else 'NO'}, rows {r['rows']}, "
                      f"load {loads[-1]:.2f}", file=sys.stderr, flush=True)
                snapshot = r.get("at_return") or r.get("before_kill")
                if args.verbose or r["last"] > TARGET or not r["once"]:
                    print(f"  tables {'at the return' if 'posted' in r else 'before the kill'}"
                          f": {json.dumps(snapshot)}\n  data dir {r['data_dir']}",
                          file=sys.stderr, flush=True)
    finally:
        sink.close()
    loads.append(os.getloadavg()[0])
    print(f"node: {' '.join(command(args.python))}, default settings; outage "
          f"{args.outage:.0f} s with {args.notes} notes, {args.queued} deliveries queued at "
          f"the kill; 1-minute load {min(loads):.2f}-{max(loads):.2f}")
    print(f"\n| seconds to the last arrival | runs | median | max | target {TARGET:.0f} s |"
          "\n|---|---|---|---|---|")
    names = {"outage-503": "503 for {o} s: from the inbox's return",
             "outage-refused": "refused for {o} s: from the port's return",
             "restart-down": "sender SIGKILLed, follower was down: from the process start",
             "restart-slow": "sender SIGKILLed, 5 in flight: from the process start"}
    for scenario in scenarios:
        rs = results[scenario]
        print(row(names[scenario].format(o=f"{args.outage:.0f}"), [r["last"] for r in rs]))
        if scenario.startswith("restart-"):
            print(row(f"{scenario}: from /healthz answering", [r["after_healthy"] for r in rs]))
    once = sum(r["once"] for rs in results.values() for r in rs)
    total = sum(len(rs) for rs in results.values())
    print(f"\nEvery activity answered 202 exactly once in {once} of {total} runs.")


if __name__ == "__main__":
    main()
