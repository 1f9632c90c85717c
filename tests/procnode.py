"""Real node processes on loopback, started with the `comuna` command."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from node.cli.main import main as cli
from node.config import write_config_file
from node.demo.nodes import free_port  # one picker: a port is never handed out twice
from tests import forkserver

_LAUNCHED: list[forkserver.Child] = []


@atexit.register
def _leftovers() -> None:
    """A test that forgot to stop its node must not leave it running after the suite."""
    for proc in _LAUNCHED:
        if proc.poll() is None:
            print(f"procnode: node process {proc.pid} "
                  "was still running at exit; killed", file=sys.stderr)
            proc.kill()


class NodeProcess:
    def __init__(self, root: Path, handle: str, db_url: str, level: str = "commune",
                 extra_env: dict[str, str] | None = None) -> None:
        self.handle, self.db_url = handle, db_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = root / f"proc-{handle}"
        self.data_dir.mkdir()
        write_config_file(self.data_dir, {"database_url": db_url})
        assert cli(["init", "--data-dir", str(self.data_dir), "--url", self.url,
                    "--handle", handle, "--name", handle.title(), "--level", level]) == 0
        self.env = {**os.environ, "COMUNA_ALLOW_PRIVATE_NETWORKS": "1",
                    "COMUNA_LOG_LEVEL": os.environ.get("COMUNA_TEST_NODE_LOG", "WARNING"),
                    "COMUNA_DELIVERY_POLL_SECONDS": "0.2",
                    **(extra_env or {})}
        self.env.pop("COMUNA_DATA_DIR", None)
        self.proc: forkserver.Child | None = None
        self.log = self.data_dir / "serve.log"

    def comuna(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "node.cli.main", args[0], "--data-dir", str(self.data_dir),
             *args[1:]], env=self.env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def invitation(self, role: str = "facilitator") -> str:
        """A single-use invitation token, made in the test's process as `comuna invite`
        makes it (a CLI process would spend a second importing; tests of the command
        itself call `comuna("invite")`)."""
        from sqlmodel import Session

        from node.config import load_settings
        from node.context import build_context
        from node.governance import bodies, members

        ctx = build_context(load_settings(str(self.data_dir)))
        try:
            with Session(ctx.engine) as s:
                body = bodies.body_by_handle(s, ctx.primary.handle)
                raw = members.invite(ctx.tx(s), body, role, 7)
                s.commit()
        finally:
            ctx.engine.dispose()
        return raw

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting for it: several nodes start side by side."""
        self.proc = forkserver.start(
            ["serve", "--data-dir", str(self.data_dir), "--port", str(self.port)],
            self.env, self.log)
        _LAUNCHED.append(self.proc)

    def wait_ready(self) -> None:
        assert self.proc is not None, "launch() first"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.handle} exited:\n{self.log.read_text()}")
            try:
                # This node's own actor, not just a health check: another process on the
                # port would answer that too.
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200 and \
                        httpx.get(self.actor, timeout=5, headers={
                            "Accept": "application/activity+json"}).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"node {self.handle} did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    @property
    def actor(self) -> str:
        return f"{self.url}/actors/{self.handle}"

    @property
    def inbox(self) -> str:
        return f"{self.actor}/inbox"

    def status(self) -> dict[str, Any]:
        import json

        status: dict[str, Any] = json.loads(self.comuna("status", "--json"))
        return status


# COMUNA_TRACE_WAITS=1 prints how long each wait took (run with -s): where a slow
# multi-process test spends its time.
TRACE_WAITS = bool(os.environ.get("COMUNA_TRACE_WAITS"))


def wait_for(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        if predicate():
            if TRACE_WAITS:
                print(f"wait {time.monotonic() - start:6.2f} s  {what}", file=sys.stderr)
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout} s")


@contextmanager
def worker_beside(node: NodeProcess) -> Iterator[forkserver.Child]:
    """A `comuna worker` on the node's data directory (logging to worker.log), stopped
    after the block; the block fails if the worker died meanwhile."""
    log = node.data_dir / "worker.log"
    worker = forkserver.start(["worker", "--data-dir", str(node.data_dir)], node.env, log)
    try:
        yield worker
        assert worker.poll() is None, log.read_text()
    finally:
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
