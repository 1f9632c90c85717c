"""Shared pieces of the benchmark scripts: a node in a temp dir, a key server, stats."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from node.cli.main import main as cli  # noqa: E402
from node.demo.nodes import free_port  # noqa: E402


def init_node(data_dir: Path, port: int, handle: str = "bench") -> str:
    url = f"http://127.0.0.1:{port}"
    assert cli(["init", "--data-dir", str(data_dir), "--url", url, "--handle", handle,
                "--name", "Bench", "--level", "commune"]) == 0
    return url


def env(**extra: str) -> dict[str, str]:
    out = {**os.environ, "COMUNA_ALLOW_PRIVATE_NETWORKS": "1", "COMUNA_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT)}
    out.pop("COMUNA_DATA_DIR", None)
    out.update(extra)
    return out


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def median(values: list[float]) -> float:
    return statistics.median(values)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far (OSError once it is gone)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> float:
    """CPU used so far by every process alive on the machine."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                total += cpu_seconds(int(entry))
            except OSError:
                continue  # ended meanwhile
    return total


__all__ = ["ROOT", "cpu_seconds", "env", "free_port", "init_node", "machine_cpu", "median",
           "rss_mb", "wait_healthy"]


class SinkProcess:
    """bench/sink.py in a control mode (`--stamps PORT...`, `--script PORT`), asked one
    line at a time over its stdin; each answer is one JSON line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "sink.py"), *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout
        if self.stdout.readline().strip() != b"ready":
            raise RuntimeError("sink did not start")

    def ask(self, line: str) -> dict[str, Any]:
        self.stdin.write(line.encode() + b"\n")
        self.stdin.flush()
        answer: dict[str, Any] = json.loads(self.stdout.readline())
        return answer

    def close(self) -> None:
        self.stdin.close()
        self.proc.terminate()
        self.proc.wait()
