"""One resource, one unit on the economy page: a commune that needs 300 kilogramos of
rice reads the barter that brings them, the delivery and its ledger in kilogramos, not
as the 0,3 toneladas the giving commune offered. Conversions are exact or not made: an
amount that does not convert without loss stays in its own unit."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from starlette.testclient import TestClient

from node.config import Settings
from node.models import Commitment, EconomicEvent, Exchange, Intent
from tests.economy_net import NS
from tests.govfixtures import build_commune
from tests.pageforms import csrf, login
from tests.test_web_economy import visible

CERRO = "https://cerro.example/actors/cerro"
SABANA = "https://sabana.example/actors/sabana"
CITY = "https://ciudad.example/actors/ciudad"


def shown(html: str) -> str:
    """What the page says, without the forms' lists of units to choose from."""
    return visible(re.sub(r"<select.*?</select>", "", html, flags=re.S))


def test_a_resource_is_read_in_the_unit_its_need_was_published_in(
        node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    here = c.ctx.urls.actor("maizal")
    with c.session() as s:
        b = s.merge(c.assembly)

        def need(uri: str, kind: str, quantity: str, unit: str) -> None:
            s.add(Intent(uri=uri, holder_id=b.id or 0, side="need", body=here, agent=here,
                         kind=NS + kind, unit=unit, quantity=quantity, available="0",
                         state="matched"))

        need(f"{here}/needs/rice", "rice", "300", "kilogram")
        need(f"{here}/needs/eggs", "eggs", "10", "dozen")
        barter = "https://ciudad.example/exchanges/1"
        s.add(Exchange(uri=barter, proposer=CITY, mode="barter", state="agreed",
                       parties=f'["{here}", "{CERRO}", "{SABANA}"]'))

        def commitment(n: int, provider: str, receiver: str, need: str, kind: str,
                       quantity: str, unit: str, delivered: str = "0") -> None:
            s.add(Commitment(uri=f"{barter}#c{n}", exchange=barter, provider=provider,
                             receiver=receiver, provider_agent=provider,
                             receiver_agent=receiver, offer=f"{provider}/offers/{n}",
                             need=need, kind=NS + kind, unit=unit, quantity=quantity,
                             delivered=delivered, state="agreed"))

        # What Cerro gives us, in the tonnes of its offer; and between the two others,
        # in grams, a resource we too publish in kilogramos.
        commitment(0, CERRO, here, f"{here}/needs/rice", "rice", "0.3", "tonne", "0.3")
        commitment(1, SABANA, CERRO, f"{CERRO}/needs/rice", "rice", "500000", "gram")
        # 25 eggs are not a whole number of thousandths of a dozen: they stay eggs.
        commitment(2, CERRO, here, f"{here}/needs/eggs", "eggs", "25", "one")
        s.add(EconomicEvent(uri="https://cerro.example/events/1", commitment=f"{barter}#c0",
                            provider=CERRO, receiver=here, kind=NS + "rice", unit="tonne",
                            quantity="0.3", state="confirmed",
                            happened_at=datetime(2026, 3, 1, tzinfo=UTC)))
        s.commit()
    login(client, "facil")
    html = client.get("/b/maizal/economy").text
    text = shown(html)
    # The need, the commitment, its delivered part, the delivery, the ledger (its table
    # and its picture's table): all in kilogramos.
    assert text.count("300 kilogramos") >= 6, text
    assert "tonelada" not in text and "0,3" not in text, text
    assert "500 kilogramos" in text and not re.search(r"\bgramos?\b", text), text
    assert "10 docenas" in text and "25 unidades" in text, text
    # The English page converts the same way.
    client.post("/language", data={"csrf": csrf(html), "lang": "en", "next": "/"})
    english = shown(client.get("/b/maizal/economy").text)
    assert "300 kilograms" in english and "tonne" not in english, english


def test_a_conversion_is_made_only_when_nothing_is_lost() -> None:
    from decimal import Decimal

    from node.economy.catalogue import shared

    cat = shared()

    def exactly(kind: str, quantity: str, unit: str, to: str) -> Decimal | None:
        return cat.exactly(NS + kind, Decimal(quantity), unit, to)

    assert exactly("rice", "0.3", "tonne", "kilogram") == 300
    assert exactly("rice", "300", "kilogram", "tonne") == Decimal("0.3")
    assert exactly("gas", "10.5", "kilogram", "cylinder") == Decimal("1.05")
    assert exactly("cement", "85", "kilogram", "sack") == 2
    assert exactly("eggs", "24", "one", "dozen") == 2
    assert exactly("eggs", "25", "one", "dozen") is None  # 2,0833…
    assert exactly("rice", "1", "gram", "tonne") is None  # 0,000001: past three decimals
    assert exactly("rice", "1", "kilogram", "litre") is None  # another dimension
    assert exactly("rice", "1", "kilogram", "furlong") is None  # no such unit
