"""A spokesperson's vote sent before the city opens its vote comes back refused on the
mandate, between two real nodes (the inbox authority lets a federation answer a vote or
mandate it was sent: mandates.sent_to_federation)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.citypair import (  # noqa: F401
    Browser,
    call,
    ensure_joined,
    pair,
    visible,
)
from tests.procnode import NodeProcess, wait_for

pytestmark = [pytest.mark.federation, pytest.mark.timeout(240)]


def test_a_vote_sent_before_the_city_opens_its_vote_comes_back_refused(
        pair: dict[str, Any]) -> None:  # noqa: F811
    from datetime import timedelta

    from node.models.base import utcnow

    city, commune = pair["city"], pair["commune"]
    head, city_head = pair["commune_head"], pair["city_head"]
    ensure_joined(pair)
    p = call(commune, head, "POST", "/api/v1/bodies/maizal/proposals",
             json={"title": "Ruta de transporte", "text": "Una ruta entre comunas.",
                   "affects": [commune.actor, city.actor]})
    call(commune, head, "POST", f"/api/v1/proposals/{p['id']}/deliberation")

    def row_at(node: NodeProcess, headers: dict[str, str], handle: str) -> Any:
        items = call(node, headers, "GET", f"/api/v1/bodies/{handle}/proposals?limit=50")
        found = [r for r in items["items"] if r["federated"]
                 and r["federated"]["matter"] and r["title"] == "Ruta de transporte"]
        return found[-1] if found else None

    wait_for(lambda: row_at(city, city_head, "ciudad_sur") is not None, 40, "city takes it")
    wait_for(lambda: (row_at(commune, head, "maizal") or {}).get("federated", {}).get(
        "answers_to") == city.actor, 40, "the commune's row answers to the city")
    row = row_at(commune, head, "maizal")
    call(commune, head, "POST", "/api/v1/bodies/maizal/meetings", json={
        "held_at": utcnow().isoformat(), "place": "Casa comunal", "attendance": 3,
        "families": 1, "decisions": [{"proposal_id": row["id"], "for": 3, "against": 0}]})
    me = call(commune, head, "GET", "/api/v1/me")["id"]
    mandate = call(commune, head, "POST", f"/api/v1/proposals/{row['id']}/mandate",
                   json={"position": "approve", "spokespersons": [me], "amendments": []})
    assert mandate["actions"] == ["vote_for", "recall"]

    rosa = Browser(commune, "rosa")
    page = f"/p/{row['id']}"
    # The page does not offer the vote before the city opens it, and says so.
    html = rosa.get(page)
    assert 'value="for"' not in html and "La federación aún no abrió la votación" in html
    # A client of the API may still send it: the city refuses it, and the refusal shows.
    call(commune, head, "POST", f"/api/v1/mandates/{mandate['id']}/vote", json={"choice": "for"})

    def state() -> dict[str, Any]:
        items = call(commune, head, "GET", f"/api/v1/proposals/{row['id']}/mandates")
        return next(m for m in items["items"] if m["id"] == mandate["id"])

    # The city has not opened its vote: its Reject comes back and shows on the mandate.
    try:
        wait_for(lambda: state()["state"] == "refused", 40, "the refusal comes back")
    except AssertionError:
        from tests.noderows import rows
        for n in (city, commune):
            for r in rows(n, "select activity_type, state, last_error, body from inbox_item"):
                print(n.handle, r[0], r[1], r[2], r[3][:300])
            for r in rows(n, "select activity_type, object_id from outbox_item"):
                print(n.handle, "OUT", r[0], r[1])
        raise
    got = state()
    assert got["refusal"]["code"] == "vote-closed" and got["refusal"]["reason"]
    assert "vote_for" in got["actions"]  # it may be sent again once the vote opens
    text = visible(rosa.get(page))
    assert "La federación rechazó el voto" in text and "todavía no la abría" in text
    assert "rechazado por la federación" in text

    # Once the city opens its vote, the same spokesperson's vote is counted there.
    city_row = row_at(city, city_head, "ciudad_sur")
    closes = (utcnow() + timedelta(seconds=600)).isoformat()
    call(city, city_head, "POST", f"/api/v1/proposals/{city_row['id']}/vote",
         json={"closes_at": closes})
    wait_for(lambda: call(commune, head, "GET", f"/api/v1/proposals/{row['id']}")["federated"][
        "federation_vote_closes_at"], 40, "the commune hears the vote opened")
    html = rosa.get(page)
    assert 'value="for"' in html and 'value="against"' not in html  # only what it allows
    r = rosa.post(page, f"{page}/mandates/{mandate['id']}/vote", choice="for")
    assert 'role="alert" data-status=' not in r.text
    assert state()["state"] == "live" and state()["refusal"] is None

    def counted() -> bool:
        votes = call(city, city_head, "GET",
                     f"/api/v1/proposals/{city_row['id']}/mandated-votes")["items"]
        return any(v["state"] == "counted" and v["choice"] == "for" for v in votes)

    wait_for(counted, 40, "the city counts the vote")
    assert state()["state"] == "live"
    # At the city, the mandate names the commune and its spokesperson, never addresses.
    text = visible(httpx.get(f"{city.url}/p/{city_row['id']}").text)
    assert "Maizal" in text and "Vocería: rosa" in text and commune.url not in text
