"""The delivery client's footprint: no module loaded by the first delivery, and at most
a few idle connections kept per host after a burst."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from node.activitypub import httpclient, netguard
from node.outbox import sender


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head, its body read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    await reader.readexactly(length)
    return head


class _HeldServer:
    """Answers 202 with keep-alive, but only once `hold` requests wait at once (so the
    client must open that many connections); counts connections open on its side."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.waiting = 0
        self.release = asyncio.Event()
        self.opened = 0
        self.open = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        self.open += 1
        try:
            while True:
                await _read_request(reader)
                self.waiting += 1
                if self.waiting >= self.hold:
                    self.release.set()
                await self.release.wait()
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()


async def _until(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check() and loop.time() < end:
        await asyncio.sleep(0.01)


def test_a_burst_to_one_host_leaves_only_the_capped_idle_connections() -> None:
    async def main() -> tuple[int, int, int]:
        srv = _HeldServer(hold=12)
        server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/inbox"
        session = sender.make_session(True, 5.0, 64, idle=30.0, idle_per_host=3)
        try:
            results = await asyncio.gather(*(sender.post(session, url, b"{}", {})
                                             for _ in range(12)))
            assert [r.status for r in results] == [202] * 12
            burst = srv.opened
            await _until(lambda: srv.open <= 3)
            left = srv.open
            for _ in range(3):  # the kept ones are reused: no new connection
                assert (await sender.post(session, url, b"{}", {})).status == 202
            return burst, left, srv.opened
        finally:
            await session.aclose()
            server.close()

    burst, left, opened = asyncio.run(main())
    assert burst == 12  # all twelve were open at once
    assert left == 3
    assert opened == 12


_FIRST_DELIVERY = """
import asyncio, sys
import node.app
from node.outbox import sender

async def main():
    async def handle(reader, writer):
        await reader.readuntil(b"\\r\\n\\r\\n")
        await reader.readexactly(2)
        writer.write(b"HTTP/1.1 202 Accepted\\r\\nContent-Length: 0\\r\\n\\r\\n")
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/inbox"
    before = set(sys.modules)
    session = sender.make_session(True, 5.0, 8)
    result = await sender.post(session, url, b"{}", {})
    await session.aclose()
    server.close()
    print(result.status, sorted(set(sys.modules) - before))

asyncio.run(main())
"""


def test_the_first_delivery_loads_no_http_library() -> None:
    # The point of our own pool: aiohttp and the modules it brought cost 9 MB in every
    # node that had delivered once. h11 and asyncio's streams are loaded by the app.
    out = subprocess.run([sys.executable, "-c", _FIRST_DELIVERY], timeout=60,
                         capture_output=True, text=True, check=True).stdout.split(" ", 1)
    assert out[0] == "202"
    assert out[1].strip() == "[]", out[1]


async def _serve(answer: bytes, hang: bool = False) -> tuple[asyncio.Server, str, dict[str, int]]:
    """Answers every request on a connection with `answer` (or never, if `hang`);
    counts the connections open on its side."""
    seen = {"open": 0, "requests": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["open"] += 1
        try:
            while True:
                await _read_request(reader)
                seen["requests"] += 1
                if hang:
                    await asyncio.sleep(3600)
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            seen["open"] -= 1
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/inbox", seen


def test_idle_connections_are_closed_after_their_time_even_if_not_used_again() -> None:
    async def main() -> tuple[int, int]:
        server, url, seen = await _serve(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
        session = sender.make_session(True, 5.0, 8, idle=0.3)
        try:
            await asyncio.gather(*(sender.post(session, url, b"{}", {}) for _ in range(3)))
            kept = seen["open"]
            await _until(lambda: seen["open"] == 0, timeout=3.0)
            return kept, seen["open"]
        finally:
            await session.aclose()
            server.close()

    kept, left = asyncio.run(main())
    assert kept >= 1 and left == 0


def test_a_peer_that_never_answers_is_a_timeout_not_a_hang() -> None:
    async def main() -> sender.SendResult:
        server, url, _ = await _serve(b"", hang=True)
        session = sender.make_session(True, 0.3, 8)
        try:
            return await sender.post(session, url, b"{}", {})
        finally:
            await session.aclose()
            server.close()

    res = asyncio.run(main())
    assert res.status is None and res.error.startswith("TimeoutError")


def test_a_long_answer_is_not_read_to_its_end_and_its_connection_not_kept() -> None:
    big = b"x" * (64 * 1024 * 4)
    answer = (b"HTTP/1.1 400 Bad Request\r\nRetry-After: 30\r\nContent-Length: "
              + str(len(big)).encode() + b"\r\n\r\n" + big)

    async def main() -> tuple[sender.SendResult, int]:
        server, url, seen = await _serve(answer)
        session = sender.make_session(True, 5.0, 8)
        try:
            res = await sender.post(session, url, b"{}", {})
            await _until(lambda: seen["open"] == 0)
            return res, session.idle_count()
        finally:
            await session.aclose()
            server.close()

    res, idle = asyncio.run(main())
    assert res.status == 400 and res.retry_after == "30" and idle == 0


def test_the_request_carries_host_length_and_our_agent_and_no_header_twice() -> None:
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        await reader.readexactly(2)
        writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        session = sender.make_session(True, 5.0, 8)
        try:
            res = await sender.post(session, f"http://127.0.0.1:{port}/u/a/inbox?x=1",
                                    b"{}", {"Content-Length": "999", "Date": "d"})
            assert res.status == 202
        finally:
            await session.aclose()
            server.close()
        lines = heads[0].decode().split("\r\n")
        assert lines[0] == "POST /u/a/inbox?x=1 HTTP/1.1"
        names = [line.split(":", 1)[0].lower() for line in lines[1:] if line]
        assert sorted(names) == ["content-length", "date", "host", "user-agent"]
        assert f"Host: 127.0.0.1:{port}" in lines and "Content-Length: 2" in lines

    asyncio.run(main())


def test_a_url_it_cannot_post_to_is_a_result_not_an_exception() -> None:
    async def main() -> list[sender.SendResult]:
        session = sender.make_session(False, 5.0, 8)
        try:
            return [await sender.post(session, url, b"{}", {})
                    for url in ("ftp://a.example/inbox", "http://10.0.0.1/inbox",
                                "http://[::ffff:127.0.0.1]/inbox")]
        finally:
            await session.aclose()

    results = asyncio.run(main())
    assert [r.error.split(":")[0] for r in results] == [
        "ValueError", "BlockedAddress", "BlockedAddress"]


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_https_is_verified_against_the_trusted_certificates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert_file, key_file)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(2)
            writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        writer.close()

    async def post_once() -> sender.SendResult:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_side)
        port = server.sockets[0].getsockname()[1]
        session = sender.make_session(True, 5.0, 8)
        try:
            return await sender.post(session, f"https://localhost:{port}/inbox", b"{}", {})
        finally:
            await session.aclose()
            server.close()

    # The system's store does not know this certificate: refused, not posted.
    refused = asyncio.run(post_once())
    assert refused.status is None and "CERTIFICATE_VERIFY_FAILED" in refused.error
    trusting = ssl.create_default_context(cafile=str(cert_file))
    monkeypatch.setattr(httpclient, "client_context", lambda: trusting)
    assert asyncio.run(post_once()).status == 202


def test_a_name_is_dialled_at_each_of_its_addresses_and_resolved_once_a_minute(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    async def resolve(host: str, port: int, allow_private: bool) -> list[str]:
        asked.append(host)
        return ["127.0.0.3", "127.0.0.1"]  # nothing listens on the first

    monkeypatch.setattr(netguard, "resolve_checked", resolve)

    async def main() -> list[int | None]:
        server, url, _ = await _serve(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
        named = url.replace("127.0.0.1", "inbox.example")
        session = sender.make_session(True, 5.0, 8, idle_per_host=0)  # dial every time
        try:
            return [(await sender.post(session, named, b"{}", {})).status for _ in range(2)]
        finally:
            await session.aclose()
            server.close()

    assert asyncio.run(main()) == [202, 202]
    assert asked == ["inbox.example"]
