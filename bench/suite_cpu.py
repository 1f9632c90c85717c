"""Where the test suite's CPU goes: runs pytest (two workers, as test.sh does) and
samples every process on the machine twice a second, adding up their CPU by kind
(pytest workers, node processes forked by the zygote or started fresh, the zygote,
Chromium, the demo and CLI commands, PostgreSQL, the rest). A process that lives less
than half a second is missed, and one that ends loses up to half a second: the totals
are a floor. Run it on a quiet machine: other programs' CPU lands under "other".

    cd bench && ../.venv/bin/python suite_cpu.py [pytest arguments]
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def _read(pid: int) -> tuple[str, int, int] | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return cmd, int(fields[1]), int(fields[11]) + int(fields[12])


def _kind(cmd: str, parent_cmd: str) -> str:
    if "forkserver" in cmd:
        return "node (forked)" if "forkserver" in parent_cmd else "zygote"
    if "node.cli.main serve" in cmd or "node.cli.main worker" in cmd:
        return "node (fresh interpreter)"
    if "node.cli.main" in cmd:
        return "demo and CLI commands"
    for needle, kind in (("chrom", "Chromium"), ("postgres", "PostgreSQL"),
                         ("playwright", "Playwright driver"), ("mypy", "mypy")):
        if needle in cmd:
            return kind
    if "python" in cmd:
        return "pytest and its workers"
    return "other (kernel threads, other programs)"


def main() -> int:
    # What the machine's processes had used before: only what they use from now counts.
    seen: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        got = _read(int(entry)) if entry.isdigit() else None
        if got is not None:
            seen[int(entry)] = got[2]
    tests = subprocess.Popen([sys.executable, "-m", "pytest", "-n", "2", "-q",
                              "-p", "no:cacheprovider", *sys.argv[1:]], cwd=ROOT)
    kinds: dict[int, str] = {}
    spent: collections.Counter[str] = collections.Counter()
    started = time.monotonic()
    while True:
        done = tests.poll() is not None
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            got = _read(pid)
            if got is None:
                continue
            cmd, ppid, cpu = got
            if pid not in kinds:
                parent = _read(ppid)
                kinds[pid] = _kind(cmd, parent[0] if parent else "")
            spent[kinds[pid]] += cpu - seen.get(pid, 0)
            seen[pid] = cpu
        if done:
            break
        time.sleep(0.5)
    print(f"\npytest exit {tests.returncode}, {time.monotonic() - started:.0f} s")
    for kind, ticks in spent.most_common():
        print(f"{kind:40s} {ticks / TICK:7.1f} s of CPU")
    return tests.returncode


if __name__ == "__main__":
    sys.exit(main())
