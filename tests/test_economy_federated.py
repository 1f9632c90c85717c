"""The communal economy end to end with real node processes on loopback: communes
Maizal, Cumbe and Sabana in Ciudad Norte, Llano in Ciudad Sur, both cities in the
territory.

Maizal's gas enterprise has gas to spare and needs maize flour; Cumbe's farm has
papaya and needs gas; Sabana makes flour and needs papaya. Each publishes on its
own node; an egg offer Maizal can meet inside itself never leaves it; the rest rises
to the city after the communes' window, where the cycle Maizal → Cumbe → Sabana →
Maizal is found and proposed; each commune accepts; the commitments agree on every
node; deliveries are recorded by the giver, confirmed by the receiver, and show in
the ledgers and the city's flows. Maizal's coffee need and Llano's coffee, unmatched
in their cities, rise after the window to the territory, which pairs them with
Llano's need for gas."""

from __future__ import annotations

from typing import Any

import pytest

from node.economy.catalogue import shared
from tests.fednet import NORTE, SUR, TERRITORIO, Net
from tests.procnode import wait_for

pytestmark = [pytest.mark.federation, pytest.mark.timeout(600)]
NS = shared().namespace
WINDOW = 3  # seconds at each level before rising further


@pytest.fixture
def net(federation: Net) -> Net:
    return federation


def publish(n: Net, handle: str, side: str, kind: str, quantity: str, unit: str,
            enterprise: str | None = None, window: int = WINDOW) -> dict[str, Any]:
    body = {"side": side, "kind": NS + kind, "quantity": quantity, "unit": unit,
            "rise_after": window, "summary": f"{kind} de {handle}"}
    if enterprise:
        body["enterprise"] = enterprise
    return dict(n.call(handle, "post", f"/api/v1/bodies/{handle}/intents", json=body))


def held(n: Net, handle: str) -> dict[str, dict[str, Any]]:
    items = n.call(handle, "get", f"/api/v1/bodies/{handle}/intents?held=true")["items"]
    return {i["uri"]: i for i in items}


def exchanges(n: Net, handle: str) -> list[dict[str, Any]]:
    return list(n.call(handle, "get", f"/api/v1/bodies/{handle}/exchanges")["items"])


def barter_with(
        n: Net, handle: str, parties: set[str], state: str | None = None) -> dict[str, Any] | None:
    want = {n.nodes[p].actor for p in parties}
    for ex in exchanges(n, handle):
        if ex["mode"] == "barter" and set(ex["parties"]) == want and \
                (state is None or ex["state"] == state):
            return ex
    return None


def wait_exchange(n: Net, handle: str, parties: set[str], state: str, what: str) -> dict[str, Any]:
    wait_for(lambda: barter_with(n, handle, parties, state) is not None, 60, what)
    found = barter_with(n, handle, parties, state)
    assert found is not None
    return found


def test_barter_rises_from_the_communes_and_closes_a_cycle_at_the_city(net: Net) -> None:
    n = net
    n.call("maizal", "post", "/api/v1/bodies/maizal/enterprises",
           json={"slug": "gas", "name": "Empresa comunal de gas"})
    n.call("cumbe", "post", "/api/v1/bodies/cumbe/enterprises",
           json={"slug": "finca", "name": "Finca familiar Los Ríos"})
    gas = publish(n, "maizal", "offer", "gas", "20", "cylinder", "gas")
    eggs = publish(n, "maizal", "offer", "eggs", "5", "dozen")
    egg_need = publish(n, "maizal", "need", "eggs", "60", "one", "gas")
    flour_need = publish(n, "maizal", "need", "maize-flour", "300", "kilogram")
    coffee_need = publish(n, "maizal", "need", "coffee", "20", "kilogram")
    papaya = publish(n, "cumbe", "offer", "papaya", "500", "kilogram", "finca")
    gas_need = publish(n, "cumbe", "need", "gas", "100", "kilogram", "finca")
    flour = publish(n, "sabana", "offer", "maize-flour", "1", "tonne")
    papaya_need = publish(n, "sabana", "need", "papaya", "200", "kilogram")
    coffee = publish(n, "llano", "offer", "coffee", "50", "kilogram")
    llano_gas = publish(n, "llano", "need", "gas", "30", "kilogram")

    # Inside Maizal the eggs meet at once: held from both, so nothing of them rises.
    assert egg_need["state"] == "matched" and egg_need["available"] == "0"
    (inside,) = [e for e in exchanges(n, "maizal") if e["mode"] == "allocation"]
    assert inside["commitments"][0]["quantity"] == "5" and \
        inside["commitments"][0]["unit"] == "dozen"

    # After the window the rest reaches the city, which finds the cycle and proposes it.
    cycle = {"maizal", "cumbe", "sabana"}
    at_city = wait_exchange(n, NORTE, cycle, "proposed", "the city proposes the cycle")
    gifts = {(c["provider"], c["receiver"], c["kind"]): (c["quantity"], c["unit"])
             for c in at_city["commitments"]}
    a, b, c = (n.nodes[h].actor for h in ("maizal", "cumbe", "sabana"))
    assert gifts == {(a, b, NS + "gas"): ("10", "cylinder"),
                     (b, c, NS + "papaya"): ("200", "kilogram"),
                     (c, a, NS + "maize-flour"): ("0.3", "tonne")}
    city_held = held(n, NORTE)
    assert eggs["uri"] not in city_held and egg_need["uri"] not in city_held

    # Each commune sees the proposal, holding what it is asked for, and accepts.
    for h in ("maizal", "cumbe", "sabana"):
        ex = wait_exchange(n, h, cycle, "proposed", f"{h} has the proposal")
        n.call(h, "post", f"/api/v1/bodies/{h}/exchanges/{ex['id']}/answer",
               json={"accept": True})
    agreed = {h: wait_exchange(n, h, cycle, "agreed", f"{h} agreed")
              for h in ("maizal", "cumbe", "sabana", NORTE)}
    views = {h: sorted((x["uri"], x["provider"], x["receiver"], x["quantity"], x["unit"],
                        x["state"]) for x in ex["commitments"]) for h, ex in agreed.items()}
    assert len({tuple(v) for v in views.values()}) == 1, views
    mine = {i["uri"]: i for i in n.call("maizal", "get",
                                         "/api/v1/bodies/maizal/intents")["items"]}
    assert mine[gas["uri"]]["available"] == "10"
    assert mine[flour_need["uri"]]["state"] == "matched"

    # Maizal delivers the gas in two parts; Cumbe confirms both; everyone records it.
    com = next(x for x in agreed["maizal"]["commitments"] if x["provider"] == a)
    com_id = com["id"]
    n.call("maizal", "post", f"/api/v1/bodies/maizal/commitments/{com_id}/deliveries",
           json={"quantity": "6", "note": "primera entrega"})
    n.call("maizal", "post", f"/api/v1/bodies/maizal/commitments/{com_id}/deliveries",
           json={"quantity": "4"})
    # Cumbe (the receiver) confirms; Sabana, not a side of it, cannot record one.
    wait_for(lambda: len(_to_answer(n, "cumbe")) == 2, 30, "cumbe has the deliveries")
    n.call("sabana", "post", f"/api/v1/bodies/sabana/commitments/{com_id}/deliveries",
               json={"quantity": "1"}, expect=(403, 404))
    for ev in _to_answer(n, "cumbe"):
        n.call("cumbe", "post", f"/api/v1/bodies/cumbe/deliveries/{ev['id']}/confirm",
               json={"accept": True})
    for h in ("maizal", "cumbe", NORTE):
        wait_for(lambda h=h: [e["state"] for e in _events(n, h)] == ["confirmed"] * 2, 30,
                 f"{h} sees the deliveries confirmed")
    fulfilled = barter_with(n, "maizal", cycle)
    assert fulfilled is not None
    assert next(x for x in fulfilled["commitments"] if x["uri"] == com["uri"])["state"] == \
        "fulfilled"
    ledger = n.call("maizal", "get", "/api/v1/bodies/maizal/ledger")["items"]
    assert {"partner": b, "gave": [{"kind": NS + "gas", "unit": "cylinder", "quantity": "10"}],
            "received": []} in ledger
    flows = n.call(NORTE, "get", f"/api/v1/bodies/{NORTE}/flows")["items"]
    assert flows == [{"from": a, "to": b, "resources": [
        {"kind": NS + "gas", "unit": "cylinder", "quantity": "10"}]}]

    # Coffee has no match in either city: after the window both rise to the territory,
    # which closes a two-way exchange with Llano's need for Maizal's remaining gas.
    pair = {"maizal", "llano"}
    at_t = wait_exchange(n, TERRITORIO, pair, "proposed", "the territory proposes")
    t_held = held(n, TERRITORIO)
    assert coffee["uri"] in t_held and coffee_need["uri"] in t_held
    assert held(n, SUR)[coffee["uri"]]["risen_to"] == [n.nodes[TERRITORIO].actor]
    t_gifts = {(x["provider"], x["kind"]): x["quantity"] for x in at_t["commitments"]}
    assert t_gifts == {(a, NS + "gas"): "3", (n.nodes["llano"].actor, NS + "coffee"): "20"}
    assert papaya["uri"] and gas_need["uri"] and flour["uri"] and papaya_need["uri"] and \
        llano_gas["uri"]


def _events(n: Net, handle: str) -> list[dict[str, Any]]:
    return list(n.call(handle, "get", f"/api/v1/bodies/{handle}/deliveries")["items"])


def _to_answer(n: Net, handle: str) -> list[dict[str, Any]]:
    me = n.nodes[handle].actor
    return [e for e in _events(n, handle) if e["receiver"] == me and e["state"] == "recorded"]


def test_the_project_bank_reaches_every_commune_and_counts_adoptions(net: Net) -> None:
    n = net
    record = n.call("maizal", "post", "/api/v1/bodies/maizal/projects", json={
        "title": "Biodigestor comunal", "sector": "energía",
        "problem": "Faltaba gas para cocinar en la escuela.",
        "actions": "Construimos un biodigestor con estiércol de la finca.",
        "resources": "Tanque de 5 m³, tubería, 40 horas de trabajo voluntario.",
        "outcome": "Gas para la cocina escolar todo el año.",
        "lessons": "Sellar bien las uniones; medir la presión cada semana.",
        "evaluation": "Muy buena"})
    assert record["adoptions"] == 0
    # Every node of the network holds it, across both cities, and finds it by words
    # and by sector.
    for h in ("cumbe", "llano", NORTE, SUR, TERRITORIO):
        wait_for(lambda h=h: any(r["uri"] == record["uri"] for r in n.call(
            h, "get", "/api/v1/projects?q=biodigestor+presión&sector=Energía")["items"]),
            40, f"{h} finds the record")
    assert n.call("llano", "get", "/api/v1/projects?q=biodigestor&sector=salud")["items"] == []
    found = n.call("llano", "get", "/api/v1/projects?q=biodigestor")["items"]
    origin = next(r for r in found if r["uri"] == record["uri"])
    adopted = n.call("llano", "post", f"/api/v1/bodies/llano/projects/{origin['id']}/adopt",
                     json={"note": "Lo haremos en el liceo."})
    assert adopted["adopted_from"] == record["uri"]
    assert adopted["actions"].startswith("Lo haremos en el liceo.")
    n.call("llano", "post", f"/api/v1/bodies/llano/projects/{origin['id']}/adopt", json={},
           expect=409)
    for h in ("maizal", "sabana", TERRITORIO):
        wait_for(lambda h=h: next(r for r in n.call(h, "get", "/api/v1/projects?q=biodigestor")[
            "items"] if r["uri"] == record["uri"])["adoptions"] == 1, 40,
            f"{h} counts the adoption")


def _the_plan(n: Net, handle: str, uri: str) -> dict[str, Any]:
    found = _plan(n, handle, uri)
    assert found is not None, f"{handle} does not hold {uri}"
    return found


def _plan(n: Net, handle: str, uri: str) -> dict[str, Any] | None:
    items = n.call(handle, "get", f"/api/v1/bodies/{handle}/plans")["items"]
    return next((p for p in items if p["uri"] == uri), None)


def test_a_joint_plan_is_decided_by_each_participant_through_its_own_assembly(net: Net) -> None:
    n = net
    a, b = n.nodes["maizal"].actor, n.nodes["cumbe"].actor

    def draft(title: str) -> dict[str, Any]:
        return dict(n.call("maizal", "post", "/api/v1/bodies/maizal/plans", json={
            "title": title, "content": "Bloques para las viviendas de ambas comunas.",
            "processes": [{"name": "Fabricar bloques", "inputs": [
                {"action": "work", "provider": b, "receiver": a, "kind": NS + "tractor-work",
                 "quantity": "10", "unit": "hour", "note": "acarreo de arena"},
                {"action": "consume", "kind": NS + "cement", "quantity": "20",
                 "unit": "sack"}],
                "outputs": [{"action": "produce", "receiver": b, "kind": NS + "blocks",
                             "quantity": "500", "unit": "one"}]}]}))

    plan = draft("Bloquera compartida")
    assert plan["participants"] == sorted([a, b]) and plan["state"] == "proposed"
    wait_for(lambda: _plan(n, "cumbe", plan["uri"]) is not None, 30, "cumbe has the plan")
    theirs = _the_plan(n, "cumbe", plan["uri"])
    # Each body decides through its own machinery: here, each one's assembly.
    n.decide_in_assembly("cumbe", theirs["proposal_id"], 12, 2)
    wait_for(lambda: n.call("maizal", "get", "/api/v1/bodies/maizal/plans")["items"][0][
        "answers"] != {}, 40, "maizal has cumbe's answer")
    assert _the_plan(n, "maizal", plan["uri"])["state"] == "proposed"  # maizal has not decided
    n.decide_in_assembly("maizal", plan["proposal_id"], 20, 1)
    for h in ("maizal", "cumbe"):
        wait_for(lambda h=h: _the_plan(n, h, plan["uri"])["state"] == "approved", 40,
                 f"{h} sees the plan approved")
    answers = _the_plan(n, "maizal", plan["uri"])["answers"]
    # c0 and c2 are answered by both sides, c1 (maizal to itself) once.
    assert set(answers.values()) == {"accept"} and len(answers) == 5

    # Work under the plan is delivered and confirmed like any commitment.
    work = next(c for c in _the_plan(n, "cumbe", plan["uri"])["commitments"]
                if c["provider"] == b)
    n.call("cumbe", "post", f"/api/v1/bodies/cumbe/commitments/{work['id']}/deliveries",
           json={"quantity": "4"})
    wait_for(lambda: len(_to_answer(n, "maizal")) == 1, 30, "maizal has the delivery")
    ev = _to_answer(n, "maizal")[0]
    n.call("maizal", "post", f"/api/v1/bodies/maizal/deliveries/{ev['id']}/confirm",
           json={"accept": True})
    wait_for(lambda: next(c for c in _the_plan(n, "cumbe", plan["uri"])["commitments"]
                          if c["uri"] == work["uri"])["delivered"] == "4", 30,
             "cumbe sees the work confirmed")
    # Either side may call off what is not delivered yet; the answer is the commitment.
    blocks = next(c for c in _the_plan(n, "maizal", plan["uri"])["commitments"]
                  if c["receiver"] == b)
    cancelled = n.call("maizal", "post",
                       f"/api/v1/bodies/maizal/commitments/{blocks['id']}/cancel",
                       json={"reason": "sin cemento"})
    assert (cancelled["uri"], cancelled["state"]) == (blocks["uri"], "cancelled")
    wait_for(lambda: next(c for c in _the_plan(n, "cumbe", plan["uri"])["commitments"]
                          if c["uri"] == blocks["uri"])["state"] == "cancelled", 30,
             "cumbe sees the blocks called off")

    # A plan one participant's assembly rejects is refused everywhere.
    second = draft("Segunda bloquera")
    wait_for(lambda: _plan(n, "cumbe", second["uri"]) is not None, 30, "cumbe has it")
    n.decide_in_assembly("cumbe", _the_plan(n, "cumbe", second["uri"])["proposal_id"], 2, 12)
    for h in ("maizal", "cumbe"):
        wait_for(lambda h=h: _the_plan(n, h, second["uri"])["state"] == "refused", 40,
                 f"{h} sees the second plan refused")
