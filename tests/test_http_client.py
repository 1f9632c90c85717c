"""The node's HTTP client against peers that misbehave: an answer framed wrong must not
become the next request's answer, a host that holds every connection must not hold
the others past the timeout, and names and URLs are sent in the form HTTP allows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from node.activitypub import netguard
from node.activitypub.fetch import Fetcher, FetchError, make_client
from node.activitypub.httpclient import Answer, Pool

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
HONEST = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhonest!"


async def _serve(handler: Handler) -> tuple[asyncio.Server, str, list[int]]:
    """`handler` gets each connection with its number (1, 2, …)."""
    opened = [0]

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                            ) -> None:
        opened[0] += 1
        try:
            await handler(reader, writer, opened[0])
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", opened


def _pool(timeout: float = 3.0, limit: int = 10) -> Pool:
    return Pool(True, timeout, limit=limit, idle=4.0, idle_per_host=4)


async def _twice(first_answer: bytes, pushed_later: bytes = b"") -> tuple[list[Answer], int]:
    """Two GETs to a server whose first connection answers `first_answer` (then, after a
    moment, `pushed_later`, unasked) and every later connection answers honestly."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(first_answer if n == 1 else HONEST)
            await writer.drain()
            if n == 1 and pushed_later:
                await asyncio.sleep(0.05)
                writer.write(pushed_later)
                await writer.drain()

    server, base, opened = await _serve(handler)
    pool = _pool()
    try:
        first = await pool.request("GET", base + "/a", {})
        await asyncio.sleep(0.1)
        second = await pool.request("GET", base + "/b", {})
    finally:
        await pool.aclose()
        server.close()
    return [first, second], opened[0]


FORGED = b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{\"forged\": true}"


@pytest.mark.parametrize("first_answer, pushed_later", [
    # A Content-Length shorter than what follows: the rest looks like an answer.
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}" + FORGED, b""),
    # A 204 carries no body, whatever follows it.
    (b"HTTP/1.1 204 No Content\r\n\r\n" + FORGED, b""),
    # An answer nobody asked for, sent while the connection sat idle.
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", FORGED),
], ids=["content-length-short", "body-after-204", "pushed-while-idle"])
def test_what_follows_an_answer_is_never_the_next_requests_answer(
        first_answer: bytes, pushed_later: bytes) -> None:
    answers, opened = asyncio.run(_twice(first_answer, pushed_later))
    assert answers[1].status == 200 and answers[1].body == b"honest!"
    assert opened == 2  # the first connection was not reused


def test_an_honest_connection_is_reused() -> None:
    answers, opened = asyncio.run(_twice(HONEST))
    assert [a.body for a in answers] == [b"honest!", b"honest!"] and opened == 1


def test_a_host_holding_every_connection_does_not_hold_others_past_the_timeout() -> None:
    async def tarpit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(3600)

    async def honest(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(HONEST)
        await writer.drain()

    async def main() -> tuple[list[str], str, float]:
        slow, slow_base, _ = await _serve(tarpit)
        good, good_base, _ = await _serve(honest)
        pool = _pool(timeout=0.5, limit=2)
        loop = asyncio.get_running_loop()
        try:
            held = [asyncio.create_task(pool.request("GET", slow_base + f"/{i}", {}))
                    for i in range(6)]
            await asyncio.sleep(0.05)
            began = loop.time()
            try:
                outcome = repr(await pool.request("GET", good_base + "/", {}))
            except TimeoutError:
                outcome = "TimeoutError"
            took = loop.time() - began
            results = await asyncio.gather(*held, return_exceptions=True)
        finally:
            await pool.aclose()
            slow.close()
            good.close()
        return [type(r).__name__ for r in results], outcome, took

    held, outcome, took = asyncio.run(main())
    assert held == ["TimeoutError"] * 6
    # Queued behind six held requests and two connections, it is answered or given up
    # within its own timeout, never after the whole queue's.
    assert took < 0.9, (outcome, took)


def test_a_name_is_sent_in_its_ascii_form_and_port_zero_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(HONEST)
        await writer.drain()

    async def loopback(host: str, port: int, allow_private: bool) -> list[str]:
        return ["127.0.0.1"]

    monkeypatch.setattr(netguard, "resolve_checked", loopback)

    async def main() -> tuple[str, Answer, str]:
        server, base, _ = await _serve(handler)
        port = base.rsplit(":", 1)[1]
        pool = _pool()
        try:
            answer = await pool.request("GET", f"http://bücher.example:{port}/x", {})
            try:
                await pool.request("GET", "http://bücher.example:0/x", {})
                refused = "sent"
            except ValueError as exc:
                refused = str(exc)
        finally:
            await pool.aclose()
            server.close()
        return port, answer, refused

    port, answer, refused = asyncio.run(main())
    assert answer.body == b"honest!"
    assert f"\r\nHost: xn--bcher-kva.example:{port}\r\n" in heads[0].decode()
    assert refused.startswith("cannot send a request") and len(heads) == 1


def test_a_redirect_to_something_not_a_url_is_a_fetch_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 302 Found\r\nLocation: http://[foo]/x\r\n"
                     b"Content-Length: 0\r\n\r\n")
        await writer.drain()

    async def main() -> None:
        server, base, _ = await _serve(handler)
        client = make_client(allow_private=True, timeout=5)
        try:
            await Fetcher(client, 10_000, 2).get_json(base + "/redirect")
        finally:
            await client.aclose()
            server.close()

    with pytest.raises(FetchError, match="not a URL"):
        asyncio.run(main())


def test_an_answer_in_tiny_chunks_is_capped_like_any_other() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"1\r\na\r\n" * 3000 + b"0\r\n\r\n")
        await writer.drain()

    async def main() -> tuple[Answer, Answer]:
        server, base, _ = await _serve(handler)
        pool = _pool()
        try:
            small = await pool.request("GET", base + "/", {}, max_body=1000)
            whole = await pool.request("GET", base + "/", {}, max_body=10_000)
        finally:
            await pool.aclose()
            server.close()
        return small, whole

    small, whole = asyncio.run(main())
    assert small.too_long and small.body == b""
    assert not whole.too_long and whole.body == b"a" * 3000
