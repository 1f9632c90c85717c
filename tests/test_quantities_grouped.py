"""Quantities on the economy pages as their reader writes numbers: thousands grouped
(Babel), a number typed with the other language's decimal mark refused with the right
form, and a need's remaining quantity called what is still missing."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.config import Settings
from node.models import Intent
from node.web.economy_labels import amount, number, parse_number
from node.web.i18n import translator
from node.web.pictures import bars, flows
from tests.conftest import ctx_of
from tests.economy_net import NS
from tests.economy_page import post
from tests.govfixtures import build_commune
from tests.pageforms import login
from tests.test_web_economy import visible


def test_thousands_are_grouped_for_each_reader() -> None:
    es, en = translator("es"), translator("en")
    assert amount("1000.5", "kilogram", es, "es") == "1.000,5 kilogramos"
    assert amount("250000", "gram", es, "es") == "250.000 gramos"
    assert amount("100500", "gram", es, "es") == "100.500 gramos"
    assert amount("1500", "one", es, "es") == "1.500 unidades"
    assert amount("1", "one", es, "es") == "1 unidad"
    assert amount("0.125", "tonne", es, "es") == "0,125 toneladas"
    assert amount("1000.5", "kilogram", en, "en") == "1,000.5 kilograms"
    assert number(Decimal("1234567.125"), "es") == "1.234.567,125"
    # What the page writes, read back, is the same number.
    for value in ("1000.5", "250000", "0.125", "7"):
        for lang in ("es", "en"):
            assert parse_number(number(value, lang), lang) == Decimal(value)


def test_a_keypad_with_only_the_other_decimal_mark_still_works() -> None:
    """Some phone keypads offer only '.': "1.5" to a Spanish reader can only be one and
    a half (a '.' grouping thousands is followed by three digits), so it is read so;
    "1.500" stays fifteen hundred."""
    for text, lang, want in (("1.5", "es", "1.5"), ("2,5", "en", "2.5"),
                             ("1.500", "es", "1500"), ("1,500", "en", "1500")):
        assert parse_number(text, lang) == Decimal(want), (text, lang)


def test_the_economy_page_groups_and_refuses(node: Settings, client: TestClient) -> None:
    build_commune(node)
    login(client, "facil")
    r = post(client, "/b/maizal/economy/intents",
             {"side": "need", "kind": NS + "gas", "quantity": "1.000,5", "unit": "kilogram",
              "enterprise": "", "rise_hours": "2"}, follow=True)
    seen = visible(r.text)
    assert "falta: 1.000,5 kilogramos de 1.000,5 kilogramos" in seen, seen[:600]
    r = post(client, "/b/maizal/economy/intents",
             {"side": "offer", "kind": NS + "gas", "quantity": "1.5", "unit": "kilogram",
              "enterprise": "", "rise_hours": "2"}, follow=True)
    assert "1,5 kilogramos" in visible(r.text)
    with Session(ctx_of(client).engine) as s:
        assert sorted(i.quantity for i in s.exec(select(Intent))) == ["1.5", "1000.5"]
    client.cookies.clear()  # a visitor reading in English (a member's own language wins)
    client.cookies.set("lang", "en")
    seen = visible(client.get("/b/maizal/economy").text)
    assert "still needed: 1,000.5 kilograms" in seen, seen[:600]


def test_the_flows_picture_groups_thousands() -> None:
    _ = translator("es")
    lines = [{"from": "a", "to": "b",
              "resources": [{"kind": "k", "unit": "gram", "quantity": "250000"}]}]
    words = bars.Words(name_of=lambda u: {"a": "Uno", "b": "Dos"}[u],
                       kind_name=lambda k: "gas", amount=lambda q, u: amount(q, u, _, "es"),
                       unit_name=lambda u: "gramos", _=_)
    assert "250.000 gramos" in str(flows.flows("todo", lines, words))
