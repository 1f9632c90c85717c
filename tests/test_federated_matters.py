"""Everything from below, end to end with real node processes on loopback: communes
Maizal, Cumbe and Sabana in the communal city Ciudad Norte, commune Llano in Ciudad
Sur, both cities in the territory.

A matter affecting Maizal and Cumbe rises to Ciudad Norte, which passes it to every
member; each commune decides its position in assembly and sends a mandate; an
amendment adopted at the city makes mandates that do not allow it lapse and sends the
new text down; spokespersons vote within their mandates; Sabana recalls its
spokesperson halfway and names another; the city's decision comes back down and any
commune can verify it from the signed votes and mandates. A matter affecting only
Maizal, sent to the city anyway, is refused back down with the reason. A matter
affecting Maizal and Llano rises to the territory through Ciudad Norte, and the
cities' positions are decided by their communes' mandated votes."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from tests.citypair import Browser
from tests.fednet import NORTE, SUR, TERRITORIO, Net
from tests.procnode import wait_for

pytestmark = [pytest.mark.federation, pytest.mark.timeout(600)]
COMMUNES_NORTE = ("maizal", "cumbe", "sabana")


@pytest.fixture
def net(federation: Net) -> Net:
    return federation


def test_a_matter_of_two_communes_is_decided_by_their_city(net: Net) -> None:
    n = net
    p = n.propose("maizal", "Acueducto compartido", ["maizal", "cumbe"])
    assert p["federated"]["escalation"] == "sent"
    assert p["federated"]["escalated_to"] == n.nodes[NORTE].actor
    matter = p["federated"]["matter"]

    # The city takes it (it is the lowest federation covering both) and passes it on.
    city_row = n.wait_row(NORTE, matter, what="the city took the matter")
    assert city_row["federated"]["electorate"] == "bodies"
    rows = {c: n.wait_row(c, matter, 1) for c in COMMUNES_NORTE}
    assert rows["maizal"]["id"] == p["id"]  # the proposal itself became Maizal's position
    wait_for(lambda: n.the_row("maizal", matter, 1)["federated"]["escalation"] == "taken",
             20, "maizal sees its matter taken")
    for c in ("cumbe", "sabana"):
        assert rows[c]["federated"]["answers_to"] == n.nodes[NORTE].actor
        assert rows[c]["author_id"] is None and rows[c]["state"] == "deliberation"
    # The same matter is not taken twice, nor routed by a body that is not a member.
    assert [r for r in n.rows(TERRITORIO)
            if r["federated"] and r["federated"]["matter"] == matter] == []

    # At the city a delegate proposes an amendment; Cumbe approves only with it.
    amendment = n.call(NORTE, "post", f"/api/v1/proposals/{city_row['id']}/amendments",
                       json={"title": "Acueducto compartido",
                             "text": "Acueducto compartido, con tanque en Cumbe."})
    amendment_uri = f"{n.nodes[NORTE].url}/amendments/{amendment['id']}"

    def heard(c: str) -> list[dict[str, Any]]:
        return list(n.call(c, "get", f"/api/v1/proposals/{rows[c]['id']}")[
            "federation_amendments"])

    # Every member body hears of it from the city (its mandate may depend on it).
    wait_for(lambda: all(heard(c) for c in COMMUNES_NORTE), 30, "the amendment heard below")
    assert [(a["uri"], a["title"], a["state"], a["against_version"])
            for a in heard("cumbe")] == [(amendment_uri, "Acueducto compartido", "open", 1)]

    speakers = {c: n.me(c) for c in COMMUNES_NORTE}
    n.decide_in_assembly("maizal", rows["maizal"]["id"], 30, 2)
    n.decide_in_assembly("cumbe", rows["cumbe"]["id"], 25, 5)
    n.decide_in_assembly("sabana", rows["sabana"]["id"], 4, 20)
    # A mandate must say what the assembly decided.
    n.mandate("sabana", rows["sabana"]["id"], "approve", [speakers["sabana"]], expect=422)
    n.mandate("maizal", rows["maizal"]["id"], "approve", [speakers["maizal"]])
    # Cumbe's coordinator picks it on the page, by its title, instead of typing its URI.
    rosa = Browser(n.nodes["cumbe"], "rosa")
    page = f"/p/{rows['cumbe']['id']}"
    boxes = re.findall(r'<input type="checkbox" name="(amendment-\d+)" value="([^"]+)"> '
                       r'Acueducto compartido', rosa.get(page))
    assert [uri for _, uri in boxes] == [amendment_uri]
    assert "Acueducto compartido, con tanque en Cumbe." in rosa.get(page)  # what it says
    r = rosa.post(page, f"{page}/mandate", position="approve_with_amendments",
                  spokesperson=str(speakers["cumbe"]), **{boxes[0][0]: amendment_uri})
    assert "Mandato enviado a la federación." in r.text
    n.mandate("sabana", rows["sabana"]["id"], "reject", [speakers["sabana"]])
    wait_for(lambda: len([m for m in n.call(NORTE, "get", f"/api/v1/proposals/"
                                                          f"{city_row['id']}/mandates")["items"]
                          if m["state"] == "live"]) == 3, 30, "three mandates at the city")

    # The amendment is adopted at the city: version 2 goes down; only Cumbe's mandate,
    # which allows it, still holds.
    n.call(NORTE, "post", f"/api/v1/proposals/{city_row['id']}/amendments/"
                          f"{amendment['id']}/decision", json={"accept": True})
    states = {m["member_body"]: m["state"] for m in n.call(
        NORTE, "get", f"/api/v1/proposals/{city_row['id']}/mandates")["items"]}
    assert states == {n.nodes["maizal"].actor: "lapsed", n.nodes["cumbe"].actor: "live",
                      n.nodes["sabana"].actor: "lapsed"}
    v2 = {c: n.wait_row(c, matter, 2, f"{c} has version 2") for c in COMMUNES_NORTE}
    wait_for(lambda: heard("cumbe")[0]["state"] == "accepted", 30, "the adoption heard")
    assert all(r["state"] == "deliberation" for r in v2.values())
    n.decide_in_assembly("maizal", v2["maizal"]["id"], 28, 3)
    n.decide_in_assembly("sabana", v2["sabana"]["id"], 5, 19)
    n.mandate("maizal", v2["maizal"]["id"], "approve", [speakers["maizal"]])
    n.mandate("sabana", v2["sabana"]["id"], "reject", [speakers["sabana"]])

    def live_mandates() -> dict[str, int]:
        return {m["member_body"]: m["version"] for m in n.call(
            NORTE, "get", f"/api/v1/proposals/{city_row['id']}/mandates")["items"]
            if m["state"] == "live"}

    wait_for(lambda: len(live_mandates()) == 3, 30, "new mandates for version 2")
    assert set(live_mandates().values()) == {2}

    page = f"/p/{rows['cumbe']['id']}"
    assert "La federación aún no abrió la votación" in rosa.get(page)
    assert "Votar ante la federación" not in rosa.get(page)
    n.open_vote(NORTE, city_row["id"])
    # Each member body hears that the city's vote opened: its spokespersons may vote now.
    wait_for(lambda: all(n.call(c, "get", f"/api/v1/proposals/{rows[c]['id']}")["federated"][
        "federation_vote_closes_at"] for c in COMMUNES_NORTE), 30, "the vote's opening heard")
    assert "Votar ante la federación" in rosa.get(page)

    def my_mandate(c: str) -> dict[str, Any]:
        # Cumbe's mandate for version 1 carried over; the others gave new ones.
        pid = rows[c]["id"] if c == "cumbe" else v2[c]["id"]
        items = n.call(c, "get", f"/api/v1/proposals/{pid}/mandates")["items"]
        return next(m for m in items
                    if m["state"] == "live" and m["member_body"] == n.nodes[c].actor)

    for c, choice in (("maizal", "for"), ("cumbe", "for"), ("sabana", "against")):
        n.call(c, "post", f"/api/v1/mandates/{my_mandate(c)['id']}/vote",
               json={"choice": choice}, expect=202)
    # A spokesperson cannot vote outside the mandate: refused at home, nothing sent.
    n.call("maizal", "post", f"/api/v1/mandates/{my_mandate('maizal')['id']}/vote",
           json={"choice": "against"}, expect=403)
    wait_for(lambda: len(n.counted(NORTE, city_row["id"])) == 3, 30, "three votes counted")

    # Sabana recalls its spokesperson halfway: the vote under that mandate is withdrawn.
    old = my_mandate("sabana")
    n.call("sabana", "post", f"/api/v1/mandates/{old['id']}/recall",
           json={"reason": "La asamblea nombra otra vocera"})
    wait_for(lambda: n.nodes["sabana"].actor not in n.counted(NORTE, city_row["id"]), 30,
             "the recalled vote withdrawn")
    n.call("sabana", "post", f"/api/v1/mandates/{old['id']}/vote", json={"choice": "against"},
           expect=409)
    luis = n.person("sabana", "luis")
    n.mandate("sabana", v2["sabana"]["id"], "reject", [luis["id"]])
    wait_for(lambda: len(live_mandates()) == 3, 30, "Sabana's new mandate")
    new = my_mandate("sabana")
    assert new["spokespersons"] == [f"{n.nodes['sabana'].url}/members/luis"]
    n.call("sabana", "post", f"/api/v1/mandates/{new['id']}/vote", json={"choice": "for"},
           headers=luis["headers"], expect=403)  # a mandate to reject
    n.call("sabana", "post", f"/api/v1/mandates/{new['id']}/vote",
           json={"choice": "against"}, headers=luis["headers"], expect=202)
    wait_for(lambda: n.counted(NORTE, city_row["id"]).get(n.nodes["sabana"].actor)
             == "against", 30, "Luis's vote counted")

    decision = n.close_vote(NORTE, city_row["id"])
    assert decision["outcome"] == "adopted" and decision["method"] == "mandates"
    # The city's acta names the spokespersons as their bodies named them, not host:port.
    acta = Browser(n.nodes[NORTE], "rosa").get(f"/p/{city_row['id']}/acta")
    assert "luis" in acta and f"luis@{n.nodes['sabana'].url.split('://')[1]}" not in acta
    assert decision["record"]["counts"]["for"] == 2
    assert decision["record"]["counts"]["against"] == 1

    # The decision travels back down and every commune records it.
    for c in COMMUNES_NORTE:
        wait_for(lambda c=c: (n.row_for(c, matter, 2) or {}).get("federated", {}).get(
            "final_outcome") == "adopted", 30, f"{c} records the decision")
    final = n.the_row("cumbe", matter, 2)["federated"]["final_decision"]
    out = subprocess.run([sys.executable, "-m", "node.cli.main", "verify", "--data-dir",
                          str(n.nodes["cumbe"].data_dir), final], env=n.nodes["cumbe"].env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "the decision holds" in out.stdout and "luis" in out.stdout


def test_a_local_matter_sent_to_the_city_is_refused_back_down(net: Net) -> None:
    n = net
    p = n.propose("maizal", "Pintar la escuela", ["maizal"])
    assert p["federated"] is None  # kept here: it affects only Maizal
    sent = n.call("maizal", "post", f"/api/v1/proposals/{p['id']}/send-up",
                  json={"federation": n.nodes[NORTE].actor})
    assert sent["sent_to"] == n.nodes[NORTE].actor
    wait_for(lambda: n.call("maizal", "get", f"/api/v1/proposals/{p['id']}")["federated"][
        "escalation"] == "refused", 30, "the city refuses it back down")
    row = n.call("maizal", "get", f"/api/v1/proposals/{p['id']}")
    assert "lower" in row["federated"]["escalation_note"] or \
        "decide it there" in row["federated"]["escalation_note"]
    matter = row["federated"]["matter"]
    assert n.row_for(NORTE, matter) is None


def test_a_matter_across_two_cities_rises_to_the_territory(net: Net) -> None:
    n = net
    p = n.propose("maizal", "Carretera entre Maizal y Llano", ["maizal", "llano"])
    assert p["federated"]["escalated_to"] == n.nodes[NORTE].actor  # the next step up
    matter = p["federated"]["matter"]
    top = n.wait_row(TERRITORIO, matter, what="the territory took the matter")
    assert top["federated"]["answers_to"] is None
    norte = n.wait_row(NORTE, matter, what="Ciudad Norte has it from the territory")
    sur = n.wait_row(SUR, matter, what="Ciudad Sur has it from the territory")
    for city_row in (norte, sur):
        assert city_row["federated"]["electorate"] == "bodies"
        assert city_row["federated"]["answers_to"] == n.nodes[TERRITORIO].actor
    rows = {c: n.wait_row(c, matter) for c in (*COMMUNES_NORTE, "llano")}
    assert rows["llano"]["federated"]["answers_to"] == n.nodes[SUR].actor

    # Communes decide and mandate their cities' spokespersons...
    for c in ("maizal", "cumbe", "llano"):
        n.decide_in_assembly(c, rows[c]["id"], 10, 1)
        n.mandate(c, rows[c]["id"], "approve", [n.me(c)])
    for city, row, members in ((NORTE, norte, 2), (SUR, sur, 1)):
        wait_for(lambda city=city, row=row, members=members: len(n.call(
            city, "get", f"/api/v1/proposals/{row['id']}/mandates")["items"]) == members,
            30, f"mandates at {city}")
        n.open_vote(city, row["id"])
    for c in ("maizal", "cumbe", "llano"):
        m = next(x for x in n.call(c, "get", f"/api/v1/proposals/{rows[c]['id']}/mandates")[
            "items"] if x["state"] == "live")
        n.call(c, "post", f"/api/v1/mandates/{m['id']}/vote", json={"choice": "for"},
               expect=202)
    # ...and each city's position at the territory comes from its communes' votes.
    for city, row, members in ((NORTE, norte, 2), (SUR, sur, 1)):
        wait_for(lambda city=city, row=row, members=members: len(n.counted(city, row["id"]))
                 == members, 30, f"the communes' votes counted at {city}")
        decision = n.close_vote(city, row["id"])
        assert decision["outcome"] == "adopted", decision
        n.mandate(city, row["id"], "approve", [n.me(city)])
    wait_for(lambda: len(n.call(TERRITORIO, "get", f"/api/v1/proposals/{top['id']}/mandates")[
        "items"]) == 2, 30, "both cities' mandates at the territory")
    n.open_vote(TERRITORIO, top["id"])
    for city, row in ((NORTE, norte), (SUR, sur)):
        m = n.call(city, "get", f"/api/v1/proposals/{row['id']}/mandates")["items"]
        mine = next(x for x in m if x["member_body"] == n.nodes[city].actor)
        n.call(city, "post", f"/api/v1/mandates/{mine['id']}/vote", json={"choice": "for"},
               expect=202)
    wait_for(lambda: len(n.counted(TERRITORIO, top["id"])) == 2, 30, "cities' votes counted")
    decision = n.close_vote(TERRITORIO, top["id"])
    assert decision["outcome"] == "adopted"
    for c in (NORTE, SUR, *COMMUNES_NORTE, "llano"):
        wait_for(lambda c=c: (n.row_for(c, matter) or {}).get("federated", {}).get(
            "final_outcome") == "adopted", 30, f"{c} records the territory's decision")
    # Llano checks, on its own, the territory's decision on the matter its assembly
    # decided: every proof, every vote within its mandate, the tally.
    llano_row = n.call("llano", "get", f"/api/v1/proposals/{rows['llano']['id']}")
    v = n.call("llano", "get", f"/api/v1/decisions/{llano_row['decision_id']}/verification")
    assert v["holds"] and v["outcome"] == "adopted" and len(v["votes"]) == 2, v
    assert v["problems"] == [] and v["findings"] == []
    assert v["decision"] == llano_row["federated"]["final_decision"]
