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

With `--script` (the outage benchmark) each port behaves as told on stdin, and every
request is logged with its activity's `id` (from the JSON body), when it came in and
what it was answered:

    mode PORT MODE    accept (202), 503, hang (read the request, never answer) or
                      closed (stop listening and reset open connections, as a process
                      that went away; any other mode listens again); {"port", "mode"}
    accepted N TIMEOUT  once N distinct ids have been answered 202 (or TIMEOUT seconds
                      have passed): {"log": [[port, id, at, status], ...]}, status null
                      for a request left unanswered
    log               the same, at once
    reset             forget the log; {"reset": true}
"""

from __future__ import annotations

import asyncio
import contextlib
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


# -- scripted ports (--script) -----------------------------------------------------------

ANSWERS = {"accept": RESPONSE,
           "503": b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"}
MODES = ("accept", "503", "hang", "closed")


def activity_id(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    return str(doc.get("id", "")) if isinstance(doc, dict) else ""


class Script:
    """Ports whose behaviour the driver changes while it runs; every request logged."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.mode = dict.fromkeys(ports, "accept")
        self.servers: dict[int, asyncio.Server] = {}
        self.open: dict[int, set[asyncio.Transport]] = {p: set() for p in ports}
        self.log: list[list[object]] = []  # [port, id, at, status or None]
        self.answered = asyncio.Event()

    def protocol(self, port: int) -> asyncio.Protocol:
        script = self

        class Scripted(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport: asyncio.Transport = transport  # type: ignore[assignment]
                self.buf = b""
                script.open[port].add(self.transport)

            def connection_lost(self, exc: Exception | None) -> None:
                script.open[port].discard(self.transport)

            def data_received(self, data: bytes) -> None:
                self.buf += data
                while (end := self.buf.find(b"\r\n\r\n")) >= 0:
                    head = self.buf[:end].lower()
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.startswith(b"content-length:"):
                            length = int(line[15:].strip())
                    total = end + 4 + length
                    if len(self.buf) < total:
                        return
                    body, self.buf = self.buf[end + 4:total], self.buf[total:]
                    script.received(port, body, self.transport)

        return Scripted()

    def received(self, port: int, body: bytes, transport: asyncio.Transport) -> None:
        mode = self.mode[port]
        answer = ANSWERS.get(mode)
        self.log.append([port, activity_id(body), time.monotonic(),
                         None if answer is None else int(answer.split(b" ", 2)[1])])
        if answer is not None:
            transport.write(answer)
            self.answered.set()

    async def listen(self, port: int) -> None:
        if port not in self.servers:
            loop = asyncio.get_running_loop()
            self.servers[port] = await loop.create_server(
                lambda: self.protocol(port), "127.0.0.1", port)

    async def set_mode(self, port: int, mode: str) -> None:
        self.mode[port] = mode
        if mode != "closed":
            await self.listen(port)
            return
        server = self.servers.pop(port, None)
        if server is not None:
            server.close()
        for transport in list(self.open[port]):
            transport.abort()  # a process that died takes its connections with it

    def accepted_ids(self) -> int:
        return len({r[1] for r in self.log if r[3] == 202})

    async def wait_accepted(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.accepted_ids() < count:
            self.answered.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.answered.wait(), left)

    async def command(self, words: list[bytes]) -> dict[str, object]:
        if words[:1] == [b"mode"] and len(words) == 3 and words[2].decode() in MODES:
            port = int(words[1])
            if port not in self.mode:
                return {"error": f"not a port of this sink: {port}"}
            await self.set_mode(port, words[2].decode())
            return {"port": port, "mode": self.mode[port]}
        if words[:1] == [b"accepted"] and len(words) == 3:
            await self.wait_accepted(int(words[1]), float(words[2]))
            return {"log": self.log}
        if words == [b"log"]:
            return {"log": self.log}
        if words == [b"reset"]:
            self.log = []
            return {"reset": True}
        return {"error": f"unknown command {b' '.join(words).decode(errors='replace')}"}

    async def run(self) -> None:
        for port in self.ports:
            await self.listen(port)
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            answer = await self.command(line.split())
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()


async def main(ports: list[int], stamps: bool, script: bool = False) -> None:
    global STAMPS
    if script:
        await Script(ports).run()
        return
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
    with_script = "--script" in argv
    port_list = [int(p) for p in argv if p not in ("--stamps", "--script")]
    try:
        import uvloop

        uvloop.run(main(port_list, with_stamps, with_script))
    except ImportError:
        asyncio.run(main(port_list, with_stamps, with_script))
