"""The fault campaign: real `comuna serve` processes on loopback behind a fault proxy
(tests/faultproxy.py) that stands at a node's public URL.

Ciudad is a city with two member communes, Maizal and Cumbe. Maizal and Ciudad sit
behind proxies, so every connection between them, either way, crosses a bad link;
Cumbe is reached directly. The scenarios: a slow, lossy link under the whole federated
decision; a partition that heals; the receiver restarted in the middle of a burst; the
sender killed with its deliveries queued. Each ends with everything arrived, and each
thing recorded once.

Nodes run with their default retry schedule and breaker cooldown; only the breaker's
threshold is lowered, so that a short partition opens it as a long one would.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from node.demo.nodes import free_port
from tests.conftest import Databases
from tests.faultproxy import FaultProxy
from tests.procnode import NodeProcess, wait_for
from tests.scenarios import (
    FaultNet,
    audit_count,
    decide_across,
    deliveries_to,
    post_notes,
    received,
    sql,
)

CITY = "ciudad"
ENV = {"COMUNA_BREAKER_THRESHOLD": "2"}
# The target: what was queued arrives within 40 s of the peer's return.
RECOVERY = 40.0
pytestmark = [pytest.mark.federation, pytest.mark.timeout(300)]


# --- the proxy itself --------------------------------------------------------------------

class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except ConnectionResetError:
            pass  # the proxy reset it, as it was told to


@pytest.fixture
def echo() -> Iterator[FaultProxy]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    proxy = FaultProxy(free_port(), server.server_address[1]).start()
    yield proxy
    proxy.stop()
    server.shutdown()
    server.server_close()


def _exchange(proxy: FaultProxy, data: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def test_proxy_adds_latency_each_way_and_caps_bandwidth(echo: FaultProxy) -> None:
    start = time.monotonic()
    assert _exchange(echo, b"hola") == b"hola"
    clean = time.monotonic() - start
    echo.set(latency=0.15)
    start = time.monotonic()
    assert _exchange(echo, b"hola") == b"hola"
    assert time.monotonic() - start >= 0.3 > clean
    echo.set(latency=0.0, bandwidth=100_000)
    start = time.monotonic()
    assert _exchange(echo, b"x" * 40_000) == b"x" * 40_000
    # 0.4 s each way; the two directions overlap, as on a full-duplex link.
    assert time.monotonic() - start >= 0.38
    assert echo.bytes_up >= 40_000 and echo.bytes_down >= 40_000


def test_proxy_resets_one_exchange_in_n_and_drops_one_connection_in_n(echo: FaultProxy) -> None:
    echo.set(reset_every=2)
    assert _exchange(echo, b"uno") == b"uno"
    with pytest.raises(ConnectionResetError):
        _exchange(echo, b"dos")  # it reached the other side; the answer is lost
    # Counted by exchange: a kept-alive connection is cut at its second one.
    with socket.create_connection(("127.0.0.1", echo.listen_port), timeout=5) as s:
        s.sendall(b"tres")
        assert s.recv(10) == b"tres"
        s.sendall(b"cuatro")
        with pytest.raises(ConnectionResetError):
            s.recv(10)
    assert (echo.exchanges, echo.resets) == (4, 2)
    echo.set(reset_every=0, drop_every=1)
    assert _exchange(echo, b"cinco") == b""
    assert echo.drops == 1


def test_proxy_partitions_stalls_and_heals(echo: FaultProxy) -> None:
    echo.partition("refuse")
    with pytest.raises(ConnectionRefusedError):
        _exchange(echo, b"nada")
    echo.heal()
    assert _exchange(echo, b"de nuevo") == b"de nuevo"

    echo.partition("blackhole")
    with socket.create_connection(("127.0.0.1", echo.listen_port), timeout=0.3) as s:
        s.sendall(b"perdido")
        with pytest.raises(TimeoutError):
            s.recv(10)
        echo.heal()
        s.settimeout(2)
        with pytest.raises(ConnectionResetError):
            s.recv(10)
    assert _exchange(echo, b"vuelta") == b"vuelta"

    echo.stall()
    with socket.create_connection(("127.0.0.1", echo.listen_port), timeout=0.3) as s:
        s.sendall(b"espera")
        with pytest.raises(TimeoutError):
            s.recv(10)
        echo.resume()
        s.settimeout(2)
        assert s.recv(10) == b"espera"


# --- the federation under faults ------------------------------------------------------------

@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultNet]:
    dbs = Databases(tmp_path_factory.mktemp("faults-db"))
    n = FaultNet(tmp_path_factory.mktemp("faults"), dbs, ENV)
    n.add(CITY, "city", proxied=True)
    n.add("maizal", proxied=True)
    n.add("cumbe")
    try:
        n.start()
        pairs = [("maizal", CITY), ("cumbe", CITY)]
        for member, federation in pairs:
            n.join(member, federation)
        n.wait_joined(pairs)
        # Maizal knows Cumbe is in the city: a matter raised during a partition is
        # routed with what the commune already knows.
        wait_for(lambda: routed_by_city(n), 30, "Maizal knows the federation")
        # The city follows Maizal, so Maizal's notes go to it as well as its matters.
        n.nodes[CITY].comuna("follow", n.nodes["maizal"].actor)
        wait_for(lambda: [r[0] for r in sql(n.nodes[CITY], "select state from following")]
                 == ["accepted"], 30, "the city follows Maizal")
        yield n
    finally:
        n.stop()
        dbs.drop_all()


def routed_by_city(n: FaultNet) -> bool:
    level = n.call("maizal", "get", "/api/v1/deciding-level", params={
        "here": "maizal", "affects": [n.nodes[c].actor for c in ("maizal", "cumbe")]})
    return bool(level["level"] == n.nodes[CITY].actor)


@pytest.fixture
def clean_links(net: FaultNet) -> Iterator[FaultNet]:
    """Each scenario starts and ends with clean links and every node running."""
    yield net
    for handle, node in net.nodes.items():
        if handle in (CITY, "maizal"):
            net.proxied(handle).proxy.clear()
        if node.proc is None:
            node.start()


def matter_rows(node: NodeProcess, matter: str) -> Counter[tuple[int, int]]:
    """How many proposal rows the node holds for a matter, per (body, version)."""
    return Counter((r[0], r[1]) for r in sql(
        node, "select body_id, current_version from proposal where matter = :m", m=matter))


def escalate(net: FaultNet, title: str) -> str:
    """Maizal opens a matter of Maizal and Cumbe; it goes to the city's queue."""
    p = net.propose("maizal", title, ["maizal", "cumbe"])
    assert p["federated"] and p["federated"]["escalation"] == "sent", p
    return str(p["federated"]["matter"])


def arrived_everywhere(net: FaultNet, matters: list[str]) -> bool:
    """Every matter has its row at the city and, passed down, at Cumbe (how many is
    `assert_once`'s business)."""
    return all(sum(matter_rows(net.nodes[h], m).values()) >= 1
               for m in matters for h in (CITY, "cumbe"))


def assert_once(net: FaultNet, matters: list[str]) -> None:
    for m in matters:
        for h in (CITY, "maizal", "cumbe"):
            rows = matter_rows(net.nodes[h], m)
            assert rows and set(rows.values()) == {1}, (h, m, rows)


def breaker_open(node: NodeProcess, host: str) -> bool:
    return bool(sql(node, "select 1 from peer_host where host = :h and open_until is not null",
                    h=host))


def held_back(node: NodeProcess, host: str, count: int) -> bool:
    """`count` deliveries to the host are queued, each tried at least once, and the
    host's breaker is open: what a peer that went away leaves behind."""
    queued = [a for s, a in deliveries_to(node, host) if s == "queued"]
    return len(queued) >= count and min(queued) >= 1 and breaker_open(node, host)


def test_bad_links_the_federated_decision_completes_once(clean_links: FaultNet) -> None:
    n = clean_links
    city, maizal = n.proxied(CITY), n.proxied("maizal")
    # 400 ms each way, 256 kbit/s, and one exchange in ten on the link cut by a reset.
    maizal.proxy.share_exchanges(city.proxy)
    for node in (city, maizal):
        node.proxy.set(latency=0.4, bandwidth=32_000, reset_every=10)
    out = decide_across(n, CITY, ("maizal", "cumbe"), "Acueducto compartido", 12)
    decision, matter, city_row = out["decision"], out["matter"], out["city_row"]
    assert decision["outcome"] == "adopted" and decision["record"]["counts"]["for"] == 2
    proxies = (city.proxy, maizal.proxy)
    assert sum(p.resets for p in proxies) >= 1, "the link never lost an answer"

    # Nothing twice: one decision, one mandate and one vote per body, one row per version
    # everywhere, the decision received once by each commune.
    assert sql(city, "select count(*) from decision where proposal_id = :p",
               p=city_row["id"])[0][0] == 1
    votes = Counter(r[0] for r in sql(city, "select member_body from mandated_vote "
                                            "where proposal_id = :p", p=city_row["id"]))
    assert votes == {maizal.actor: 1, n.nodes["cumbe"].actor: 1}
    mandates = Counter(r[0] for r in sql(city, "select member_body from mandate "
                                               "where matter = :m", m=matter))
    assert mandates == {maizal.actor: 1, n.nodes["cumbe"].actor: 1}
    assert_once(n, [matter])
    for c in ("maizal", "cumbe"):
        assert audit_count(n.nodes[c], "decision.received", matter=matter) == 1
    print(f"\nbad links: {city.proxy.exchanges} exchanges on "
          f"{sum(p.connections for p in proxies)} connections, "
          f"{sum(p.resets for p in proxies)} reset")


def test_a_partition_that_heals(clean_links: FaultNet) -> None:
    n = clean_links
    city, maizal = n.proxied(CITY), n.nodes["maizal"]
    city.proxy.partition("refuse")
    notes = post_notes(maizal, [f"durante el corte {i}" for i in range(5)])
    matter = escalate(n, "Camino durante el corte")
    wait_for(lambda: held_back(maizal, city.host, 6), 30, "deliveries held back")
    assert received(city, notes) == {}
    city.proxy.heal()
    healed = time.monotonic()
    wait_for(lambda: len(received(city, notes)) == 5 and arrived_everywhere(n, [matter]), RECOVERY,
             "everything arrives after the partition heals")
    print(f"\npartition: everything arrived {time.monotonic() - healed:.1f} s after healing")
    assert_once(n, [matter])


def test_receiver_restarted_mid_delivery_gets_everything_once(clean_links: FaultNet) -> None:
    n = clean_links
    city, maizal = n.proxied(CITY), n.nodes["maizal"]
    # A slow link spreads the burst over seconds, so the restart falls in its middle.
    city.proxy.set(latency=0.2, bandwidth=16_000)
    notes = post_notes(maizal, [f"ráfaga {i}" for i in range(30)])
    matters = [escalate(n, f"Asunto de la ráfaga {i}") for i in range(3)]
    wait_for(lambda: len(received(city, notes)) >= 3, 30, "the burst under way")
    city.kill()
    assert len(received(city, notes)) < len(notes), "the burst ended before the restart"
    city.start()
    restarted = time.monotonic()

    def arrived() -> bool:
        got = received(city, notes)
        return (len(got) == len(notes) and set(got.values()) == {"done"}
                and arrived_everywhere(n, matters))

    try:
        wait_for(arrived, 60, "the whole burst arrives and is handled")
    except AssertionError as exc:
        # Say what was missing: which notes, in which state, and which matters.
        got = received(city, notes)
        late = {n: got.get(n, "absent") for n in notes if got.get(n) != "done"}
        rows = sql(maizal, "select state, attempts, last_status from delivery where host = :h",
                   h=city.host)
        raise AssertionError(f"{exc}; notes not done: {late}; matters everywhere: "
                             f"{arrived_everywhere(n, matters)}; deliveries at the sender: "
                             f"{rows}") from exc
    print(f"\nreceiver restart: done {time.monotonic() - restarted:.1f} s after the restart")
    assert_once(n, matters)
    sent = sql(maizal, "select state from delivery where host = :h", h=city.host)
    assert "failed" not in {r[0] for r in sent}


def test_sender_killed_with_deliveries_queued_delivers_after_restart(clean_links: FaultNet) -> None:
    n = clean_links
    city, maizal = n.proxied(CITY), n.proxied("maizal")
    city.proxy.partition("refuse")
    notes = post_notes(maizal, [f"antes del apagón {i}" for i in range(5)])
    matter = escalate(n, "Luz después del apagón")
    wait_for(lambda: held_back(maizal, city.host, 6), 30, "deliveries held back")
    maizal.kill()
    city.proxy.heal()
    maizal.start()
    restarted = time.monotonic()
    wait_for(lambda: len(received(city, notes)) == 5 and arrived_everywhere(n, [matter]), RECOVERY,
             "everything arrives after the sender's restart")
    print(f"\nsender SIGKILL: everything arrived {time.monotonic() - restarted:.1f} s "
          f"after the restart")
    assert_once(n, [matter])
