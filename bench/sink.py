"""A minimal inbox sink for the delivery benchmarks: answers every POST with 202.

    python bench/sink.py [--stamps] PORT [PORT ...]

Deliberately tiny (no framework) so the sink costs little CPU beside the workers.

With `--stamps` the sink also notes when each distinct inbox (port and path) first
received a request, on `time.monotonic()` (CLOCK_MONOTONIC on Linux, the same clock
in every process of the machine, so the driver can compare it with its own), and
takes commands on stdin, one a line, each answered with one JSON line on stdout:

    wait N TIMEOUT   once N distinct inboxes have received (or TIMEOUT seconds have
                     passed): {"requests", "distinct", "first", "last",
                     "ports": {PORT: [distinct, first, last]}}, then forget them all
    reset            forget every stamp; answers {"reset": true}
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

RESPONSE = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


class Stamps:
    """First arrival per (port, path) since the last reset."""

    def __init__(self) -> None:
        self.requests = 0
        self.seen: dict[tuple[int, bytes], float] = {}
        self.grown = asyncio.Event()

    def note(self, port: int, head: bytes) -> None:
        now = time.monotonic()
        self.requests += 1
        line = head.split(b"\r\n", 1)[0].split(b" ")
        key = (port, line[1] if len(line) > 1 else b"")
        if key not in self.seen:
            self.seen[key] = now
            self.grown.set()

    def report(self) -> dict[str, object]:
        ports: dict[int, list[float]] = {}
        for (port, _), at in self.seen.items():
            entry = ports.setdefault(port, [0, at, at])
            entry[0] += 1
            entry[1] = min(entry[1], at)
            entry[2] = max(entry[2], at)
        stamps = self.seen.values()
        return {"requests": self.requests, "distinct": len(self.seen),
                "first": min(stamps, default=None), "last": max(stamps, default=None),
                "ports": ports}

    def reset(self) -> None:
        self.requests = 0
        self.seen = {}


STAMPS: Stamps | None = None


class Sink(asyncio.Protocol):
    count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            length = 0
            pos = head.find(b"content-length:")
            if pos >= 0:
                length = int(head[pos + 15:head.find(b"\r\n", pos) if head.find(
                    b"\r\n", pos) > 0 else len(head)].strip())
            total = end + 4 + length
            if len(self.buf) < total:
                return
            if STAMPS is not None:
                STAMPS.note(self.port, self.buf[:end])
            self.buf = self.buf[total:]
            Sink.count += 1
            self.transport.write(RESPONSE)  # type: ignore[attr-defined]


async def wait_for(stamps: Stamps, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(stamps.seen) < count:
        stamps.grown.clear()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            await asyncio.wait_for(stamps.grown.wait(), left)
        except TimeoutError:
            return


async def commands(stamps: Stamps) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        words = line.split()
        if words[:1] == [b"wait"] and len(words) == 3:
            await wait_for(stamps, int(words[1]), float(words[2]))
            answer: dict[str, object] = stamps.report()
            stamps.reset()
        elif words == [b"reset"]:
            stamps.reset()
            answer = {"reset": True}
        else:
            answer = {"error": f"unknown command {line.decode(errors='replace').strip()}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


async def main(ports: list[int], stamps: bool) -> None:
    global STAMPS
    if stamps:
        STAMPS = Stamps()
    loop = asyncio.get_running_loop()
    for port in ports:
        await loop.create_server(Sink, "127.0.0.1", port)
    print("ready", flush=True)
    if STAMPS is not None:
        await commands(STAMPS)  # returns when stdin closes: the driver is gone
    else:
        await asyncio.Event().wait()


if __name__ == "__main__":
    argv = sys.argv[1:]
    with_stamps = "--stamps" in argv
    port_list = [int(p) for p in argv if p != "--stamps"]
    try:
        import uvloop

        uvloop.run(main(port_list, with_stamps))
    except ImportError:
        asyncio.run(main(port_list, with_stamps))
