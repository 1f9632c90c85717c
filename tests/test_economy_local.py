"""The economy inside one commune, through the JSON API: enterprises and councils,
offers and needs checked against the catalogue, local-first matching that holds the
quantities so nothing rises, answers, deliveries (partial, confirmed, disputed),
cancellation, the ledger; and who may act for whom."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from node.config import Settings
from node.economy.catalogue import shared
from node.models import Commitment, EconomicEvent, Exchange, Intent
from tests.apiclient import (
    Headers,
    cli_invite,
    contract,  # noqa: F401  (every answer checked against OpenAPI)
    join,
)
from tests.conftest import ctx_of

NS = shared().namespace
B = "/api/v1/bodies/maizal"


@pytest.fixture
def people(node: Settings, client: TestClient, capsys: pytest.CaptureFixture[str]
           ) -> dict[str, Headers]:
    facil = join(client, cli_invite(node, capsys), "facil", "f1")
    out = {"facil": facil}
    for name in ("gasera", "finca", "vecina"):
        r = client.post(f"{B}/invitations", headers=facil, json={})
        out[name] = join(client, r.json()["token"], name)
    return out


def _state(client: TestClient) -> tuple[Any, ...]:
    with Session(ctx_of(client).engine) as s:
        tables: tuple[Any, ...] = (Intent, Exchange, Commitment, EconomicEvent)
        counts = tuple(len(s.exec(select(t)).all()) for t in tables)
        return counts + tuple((r.available, r.state)
                              for r in s.exec(select(Intent).order_by(col(Intent.id))).all())


def _enterprises(client: TestClient, people: dict[str, Headers]) -> None:
    for slug, name, worker in (("gas", "Empresa comunal de gas", "gasera"),
                               ("finca", "Finca familiar", "finca")):
        r = client.post(f"{B}/enterprises", headers=people["facil"],
                        json={"slug": slug, "name": name, "sector": "energía"})
        assert r.status_code == 201, r.text
        r = client.post(f"{B}/enterprises/{slug}/workers", headers=people["facil"],
                        json={"username": worker, "council": True})
        assert r.status_code == 200 and r.json()["workers"] == [
            {"username": worker, "council": True}]


def test_an_offer_matched_inside_the_commune_is_held_and_delivered(
        client: TestClient, people: dict[str, Headers]) -> None:
    _enterprises(client, people)
    kinds = client.get("/api/v1/resource-kinds?lang=en").json()["items"]
    gas = next(k for k in kinds if k["slug"] == "gas")
    assert gas["label"] == "Cooking gas (LPG)" and "cylinder" in gas["units"]
    r = client.post(f"{B}/intents", headers=people["gasera"], json={
        "side": "offer", "kind": NS + "gas", "quantity": "10", "unit": "cylinder",
        "enterprise": "gas", "summary": "Bombonas de 10 kg", "rise_after": 3600,
        "in_return": NS + "maize-flour"})
    assert r.status_code == 201, r.text
    offer = r.json()
    assert offer["available"] == "10" and offer["agent"].endswith("/enterprises/gas")
    assert offer["in_return"] == NS + "maize-flour"
    r = client.post(f"{B}/intents", headers=people["finca"], json={
        "side": "need", "kind": NS + "gas", "quantity": "40", "unit": "kilogram",
        "enterprise": "finca", "rise_after": 0})
    assert r.status_code == 201, r.text
    need = r.json()
    # Matched at once, inside: 40 kg are 4 cylinders, held from both; nothing left to rise.
    assert need["available"] == "0" and need["state"] == "matched"
    mine = {i["id"]: i for i in client.get(f"{B}/intents").json()["items"]}
    assert mine[offer["id"]]["available"] == "6"
    (ex,) = client.get(f"{B}/exchanges").json()["items"]
    assert ex["mode"] == "allocation" and ex["state"] == "proposed"
    (c,) = ex["commitments"]
    assert (c["quantity"], c["unit"]) == ("4", "cylinder")
    # Each answer says what the asker may do now: the council of the farm that
    # receives is offered nothing, the gas council and the coordination answer.
    for who, offered in (("finca", []), ("gasera", ["accept", "refuse"]),
                         ("facil", ["accept", "refuse"])):
        (seen,) = client.get(f"{B}/exchanges", headers=people[who]).json()["items"]
        assert seen["actions"] == offered, who
    assert client.get(f"{B}/exchanges").json()["items"][0]["actions"] == []
    for who, offered in (("gasera", ["withdraw"]), ("finca", [])):
        assert {i["id"]: i["actions"] for i in client.get(
            f"{B}/intents", headers=people[who]).json()["items"]}[offer["id"]] == offered
    # The receiving farm's council cannot accept for the enterprise that gives.
    r = client.post(f"{B}/exchanges/{ex['id']}/answer", headers=people["finca"],
                    json={"accept": True})
    assert r.status_code == 403
    r = client.post(f"{B}/exchanges/{ex['id']}/answer", headers=people["gasera"],
                    json={"accept": True})
    assert r.status_code == 200 and r.json()["state"] == "agreed"
    assert r.json()["actions"] == [] and r.json()["commitments"][0]["actions"] == [
        "deliver", "cancel"]
    with Session(ctx_of(client).engine) as s:
        cid = s.exec(select(Commitment.id)).one()
    # Only the giver records deliveries, never more than committed.
    r = client.post(f"{B}/commitments/{cid}/deliveries", headers=people["finca"],
                    json={"quantity": "1"})
    assert r.status_code == 403
    r = client.post(f"{B}/commitments/{cid}/deliveries", headers=people["gasera"],
                    json={"quantity": "5"})
    assert r.status_code == 422 and r.json()["code"] == "too-much"
    r = client.post(f"{B}/commitments/{cid}/deliveries", headers=people["gasera"],
                    json={"quantity": "3"})
    assert r.status_code == 201, r.text
    with Session(ctx_of(client).engine) as s:
        eid = s.exec(select(EconomicEvent.id)).one()
    # The giver cannot confirm its own delivery; the receiver does.
    r = client.post(f"{B}/deliveries/{eid}/confirm", headers=people["vecina"],
                    json={"accept": True})
    assert r.status_code == 403
    r = client.post(f"{B}/deliveries/{eid}/confirm", headers=people["finca"],
                    json={"accept": True})
    assert r.status_code == 200 and r.json()["state"] == "confirmed"
    (ex,) = client.get(f"{B}/exchanges").json()["items"]
    assert ex["commitments"][0]["state"] == "partial"
    assert ex["commitments"][0]["delivered"] == "3"
    # Cancelling the rest gives the undelivered cylinder back to the offer.
    r = client.post(f"{B}/commitments/{cid}/cancel", headers=people["gasera"],
                    json={"reason": "se acabó el gas"})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    mine = {i["id"]: i for i in client.get(f"{B}/intents").json()["items"]}
    assert mine[offer["id"]]["available"] == "7"
    ledger = client.get(f"{B}/ledger").json()["items"]
    me = ctx_of(client).urls.actor("maizal")
    assert ledger == [{"partner": me,
                       "gave": [{"kind": NS + "gas", "unit": "cylinder", "quantity": "3"}],
                       "received": [{"kind": NS + "gas", "unit": "cylinder",
                                     "quantity": "3"}]}]
    assert client.get(f"{B}/ledger?since=2999-01-01T00:00:00Z").json()["items"] == []


def test_refusals_change_nothing(client: TestClient, people: dict[str, Headers]) -> None:
    _enterprises(client, people)
    before = _state(client)
    cases = [
        (people["vecina"], {"side": "offer", "kind": NS + "gas", "quantity": "1",
                            "unit": "kilogram"}, 403),  # not a facilitator nor council
        (people["gasera"], {"side": "offer", "kind": NS + "gas", "quantity": "1",
                            "unit": "kilogram", "enterprise": "finca"}, 403),  # not its council
        (people["facil"], {"side": "offer", "kind": NS + "gas", "quantity": "1",
                           "unit": "litre"}, 422),  # gas is weighed, not measured in litres
        (people["facil"], {"side": "offer", "kind": "https://x.example/k#nada",
                           "quantity": "1", "unit": "one"}, 422),
        (people["facil"], {"side": "offer", "kind": NS + "gas", "quantity": "0",
                           "unit": "kilogram"}, 422),
        (people["facil"], {"side": "offer", "kind": NS + "gas", "quantity": "1.0001",
                           "unit": "kilogram"}, 422),
        (people["facil"], {"side": "offer", "kind": NS + "gas", "quantity": "1",
                           "unit": "kilogram", "starts_at": "2027-02-01T00:00:00Z",
                           "ends_at": "2027-01-01T00:00:00Z"}, 422),
        (None, {"side": "offer", "kind": NS + "gas", "quantity": "1", "unit": "kilogram"}, 401),
    ]
    for headers, body, status in cases:
        r = client.post(f"{B}/intents", headers=headers or {}, json=body)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert _state(client) == before


def test_a_refused_match_is_given_back_and_not_proposed_again(
        client: TestClient, people: dict[str, Headers]) -> None:
    _enterprises(client, people)
    r = client.post(f"{B}/intents", headers=people["facil"], json={
        "side": "offer", "kind": NS + "papaya", "quantity": "100", "unit": "kilogram",
        "enterprise": "finca"})
    offer = r.json()
    client.post(f"{B}/intents", headers=people["facil"], json={
        "side": "need", "kind": NS + "papaya", "quantity": "30", "unit": "kilogram"})
    (ex,) = client.get(f"{B}/exchanges").json()["items"]
    r = client.post(f"{B}/exchanges/{ex['id']}/answer", headers=people["facil"],
                    json={"accept": False, "reason": "mejor para la escuela"})
    assert r.status_code == 200 and r.json()["state"] == "refused"
    mine = {i["id"]: i for i in client.get(f"{B}/intents").json()["items"]}
    assert mine[offer["id"]]["available"] == "100"
    from node.economy.clock import one_pass
    from node.models.base import utcnow

    one_pass(ctx_of(client), utcnow().replace(year=2000))
    assert len(client.get(f"{B}/exchanges").json()["items"]) == 1
    # Answering twice is a conflict.
    r = client.post(f"{B}/exchanges/{ex['id']}/answer", headers=people["facil"],
                    json={"accept": True})
    assert r.status_code == 409


def test_a_facilitator_adds_a_resource_kind_with_its_own_unit(
        client: TestClient, people: dict[str, Headers]) -> None:
    r = client.post("/api/v1/resource-kinds", headers=people["gasera"], json={
        "slug": "panela", "label_es": "Panela", "unit": "kilogram", "extra": {"bloque": "0.5"}})
    assert r.status_code == 403
    r = client.post("/api/v1/resource-kinds", headers=people["facil"], json={
        "slug": "gas", "label_es": "Gas", "unit": "kilogram"})
    assert r.status_code == 409  # the shared catalogue has it
    r = client.post("/api/v1/resource-kinds", headers=people["facil"], json={
        "slug": "panela", "label_es": "Panela", "label_en": "Raw cane sugar",
        "unit": "kilogram", "extra": {"bloque": "0.5"}})
    assert r.status_code == 201, r.text
    kind = r.json()
    assert "bloque" in kind["units"] and kind["uri"].endswith("/resource-kinds/panela")
    r = client.post(f"{B}/intents", headers=people["facil"], json={
        "side": "offer", "kind": kind["uri"], "quantity": "40", "unit": "bloque"})
    assert r.status_code == 201
    r = client.post(f"{B}/intents", headers=people["facil"], json={
        "side": "offer", "kind": kind["uri"], "quantity": "4", "unit": "litre"})
    assert r.status_code == 422
