"""The node's HTTP client, for fetching (GET) and delivery (POST): HTTP/1.1 over asyncio
streams, spoken with h11, connections pooled per host.

Why not a client library: httpx's pool tops out near 140 signed POSTs/s at delivery's
concurrency and spends about 1 ms of CPU per GET; aiohttp reached the signing bound
but, with the modules it brings, cost 9 MB of resident memory in every node that had
delivered once. h11 is small and asyncio's streams are in memory already, so this pool
costs nearly nothing (docs/benchmarks.md, ninth session).

What it guarantees: a connection is dialled only to checked addresses (`netguard`:
names resolved here, cached a minute, every address checked, IP literals too), at most
`limit` connections are in use at once, a host keeps at most `idle_per_host` idle
ones, none is reused after `idle` seconds (a peer closing its end as we send would fail
the request), one timeout covers a whole request, and an answer's body is read only up
to the caller's limit. Redirects are the caller's to follow (each hop checked anew).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11

from node.activitypub import netguard
from node.activitypub.tls import client_context

USER_AGENT = "Comuna/0.1 (+ActivityPub)"
DNS_SECONDS = 60.0
# Connecting (TLS included) to one of several addresses of a name.
ADDRESS_SECONDS = 5.0
# Pooled connections idle longer than this are not used again. Servers close idle
# keep-alive connections on their own schedule (uvicorn, which serves Comuna, after
# 5 s); a request sent on one as the server closes it fails. Letting go first turns
# that race (a failed attempt, then a retry) into a new connection now.
POOL_IDLE_SECONDS = 4.0
_READ = 65536

Key = tuple[str, str, int]


class Disconnected(ConnectionError):
    """The peer closed or reset the connection before answering: often a pooled one it
    had just closed. A GET may be sent again; so may a delivery's POST (inboxes drop a
    repeated activity id)."""


class BadResponse(OSError):
    """The peer's answer was not HTTP/1.1 we can read."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes = b""
    # The body was longer than the caller's limit: `body` holds none of it.
    too_long: bool = False


@dataclass
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    http: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    idle_since: float = 0.0

    def usable(self, now: float, idle: float) -> bool:
        # Bytes that arrived while it was idle (a 408, or what a mis-framed answer left)
        # would be read as the next request's answer: such a connection is not reused.
        # StreamReader has no public way to ask; `_buffer` is where it keeps them.
        unread = getattr(self.reader, "_buffer", b"")
        return (now - self.idle_since < idle and not unread and not self.reader.at_eof()
                and not self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class Pool:
    def __init__(self, allow_private: bool, timeout: float, limit: int, idle: float,
                 idle_per_host: int) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.idle = idle
        self.idle_per_host = idle_per_host
        self._slots = asyncio.Semaphore(limit)
        self._idle: dict[Key, list[_Conn]] = {}
        self._names: dict[str, tuple[float, list[str]]] = {}
        self._sweep: asyncio.TimerHandle | None = None
        self._closed = False

    async def request(self, method: str, url: str, headers: dict[str, str],
                      body: bytes | None = None, max_body: int = 64 * 1024) -> Answer:
        """Raises OSError (Disconnected, BadResponse, TimeoutError, Unresolvable,
        refused…), BlockedAddress, or ValueError for a URL or header it cannot send."""
        if self._closed:
            raise RuntimeError("the HTTP client is closed")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.port == 0:
            raise ValueError(f"cannot send a request to {url!r}")
        port = parts.port if parts.port is not None else (
            443 if parts.scheme == "https" else 80)
        key: Key = (parts.scheme, parts.hostname, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = _host_header(parts.hostname, parts.port)
        # The wait for a free connection counts in the timeout: a host that holds every
        # connection must not hold back requests to the others without end.
        async with asyncio.timeout(self.timeout), self._slots:
            conn = self._take(key) or await self._connect(key)
            try:
                answer, keep = await _exchange(conn, method, host, target, headers, body,
                                               max_body)
            except BaseException:
                conn.close()
                raise
            self._give_back(key, conn, keep)
            return answer

    async def aclose(self) -> None:
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    def idle_count(self) -> int:
        return sum(len(c) for c in self._idle.values())

    def _take(self, key: Key) -> _Conn | None:
        conns = self._idle.get(key)
        now = asyncio.get_running_loop().time()
        while conns:
            conn = conns.pop()  # the most recently used: the likeliest still open
            if conn.usable(now, self.idle):
                return conn
            conn.close()
        return None

    def _give_back(self, key: Key, conn: _Conn, keep: bool) -> None:
        conns = self._idle.get(key, [])
        if not keep or self._closed or len(conns) >= self.idle_per_host:
            conn.close()
            return
        self._idle[key] = conns
        loop = asyncio.get_running_loop()
        conn.idle_since = loop.time()
        conns.append(conn)
        if self._sweep is None:
            self._sweep = loop.call_later(self.idle, self._close_stale)

    def _close_stale(self) -> None:
        """Closes what has been idle too long, so a burst's connections do not stay
        open on either side until the peer's keep-alive ends."""
        self._sweep = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for key in list(self._idle):
            fresh = []
            for conn in self._idle[key]:
                if conn.usable(now, self.idle):
                    fresh.append(conn)
                else:
                    conn.close()
            if fresh:
                self._idle[key] = fresh
            else:
                del self._idle[key]
        if self._idle:
            self._sweep = loop.call_later(self.idle / 2, self._close_stale)

    async def _connect(self, key: Key) -> _Conn:
        scheme, host, port = key
        tls = client_context() if scheme == "https" else None
        addrs = await self._addresses(host, port)
        last: OSError | None = None
        for n, addr in enumerate(addrs, 1):
            # Every address but the last gets a few seconds: one that drops packets
            # (an IPv6 route that goes nowhere) must not use the whole timeout.
            try:
                async with asyncio.timeout(None if n == len(addrs) else ADDRESS_SECONDS):
                    reader, writer = await asyncio.open_connection(
                        addr, port, ssl=tls, server_hostname=host if tls else None,
                        limit=_READ)
            except OSError as exc:  # refused, unreachable, that address's timeout
                last = exc
                continue
            return _Conn(reader, writer)
        assert last is not None  # _addresses returns at least one address
        raise last

    async def _addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses of `host` (an IP literal goes through the same check),
        cached for DNS_SECONDS."""
        now = asyncio.get_running_loop().time()
        cached = self._names.get(host)
        if cached is not None and cached[0] > now:
            return cached[1]
        addrs = await netguard.resolve_checked(host, port, self.allow_private)
        if len(self._names) > 1000:
            self._names = {h: v for h, v in self._names.items() if v[0] > now}
        self._names[host] = (now + DNS_SECONDS, addrs)
        return addrs


def _host_header(hostname: str, port: int | None) -> str:
    """The Host header's value: a name in its ASCII form (IDNA), an IPv6 address in
    brackets. Raises ValueError (UnicodeError) for a name that has no ASCII form."""
    if ":" in hostname:
        name = f"[{hostname}]"
    elif hostname.isascii():  # the usual case, without loading the idna codec
        name = hostname
    else:
        name = hostname.encode("idna").decode("ascii")
    return name if port is None else f"{name}:{port}"


async def _exchange(conn: _Conn, method: str, host: str, target: str,
                    headers: dict[str, str], body: bytes | None, max_body: int
                    ) -> tuple[Answer, bool]:
    """One request and its answer. Returns the answer and whether the connection may
    carry another request."""
    sent = {k.lower() for k in headers}
    fields = [(k, v) for k, v in headers.items() if k.lower() != "content-length"]
    if "host" not in sent:
        fields.insert(0, ("Host", host))
    if "user-agent" not in sent:
        fields.append(("User-Agent", USER_AGENT))
    if body is not None:
        fields.append(("Content-Length", str(len(body))))
    http = conn.http
    try:
        out = http.send(h11.Request(method=method, target=target, headers=fields))
        if body:
            out += http.send(h11.Data(data=body))
        conn.writer.write(out + http.send(h11.EndOfMessage()))
        await conn.writer.drain()
        return await _read_answer(conn, method, max_body)
    except h11.LocalProtocolError as exc:  # headers we may not send: a fault of ours
        raise ValueError(f"cannot send this request: {exc}") from exc
    except h11.RemoteProtocolError as exc:
        raise BadResponse(f"unreadable answer: {exc}") from exc
    except (ConnectionResetError, BrokenPipeError) as exc:
        if http.their_state is h11.SEND_RESPONSE:  # nothing of an answer had come
            raise Disconnected(f"connection closed before the answer: {exc}") from exc
        raise


async def _read_answer(conn: _Conn, method: str, max_body: int) -> tuple[Answer, bool]:
    http = conn.http
    answer: Answer | None = None
    # One buffer: an answer sent in tiny chunks would otherwise cost an object per chunk.
    body = bytearray()
    while True:
        event = http.next_event()
        if event is h11.NEED_DATA:
            data = await conn.reader.read(_READ)
            if not data and http.their_state is h11.SEND_RESPONSE:
                raise Disconnected("connection closed before the answer")
            http.receive_data(data)
        elif isinstance(event, h11.Response):
            answer = Answer(event.status_code,
                            {k.decode("latin-1"): v.decode("latin-1")
                             for k, v in event.headers})
            declared = answer.headers.get("content-length", "")
            if method != "HEAD" and declared.isdigit() and int(declared) > max_body:
                answer.too_long = True
                return answer, False  # not read at all
        elif isinstance(event, h11.Data):
            assert answer is not None
            if len(body) + len(event.data) > max_body:
                answer.too_long = True
                return answer, False
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert answer is not None
            answer.body = bytes(body)
            # Bytes past the end of the answer (a Content-Length shorter than what was
            # sent, a body after a 204): the framing cannot be trusted, nor the
            # connection.
            leftover, closed = http.trailing_data
            keep = (http.our_state is h11.DONE and http.their_state is h11.DONE
                    and not leftover and not closed)
            if keep:
                http.start_next_cycle()
            return answer, keep
        elif isinstance(event, h11.ConnectionClosed):
            raise Disconnected("connection closed before the answer")
        # An InformationalResponse (1xx) is skipped: the final answer follows.
