"""The demo's federated matter: an aqueduct shared by El Maizal and Cumbe Adentro rises
to the communal city; every commune decides its position in assembly and mandates a
spokesperson; La Sabana recalls hers halfway and names another; the city's decision
comes back down to every commune."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from node.demo.client import Person, wait
from node.demo.nodes import DemoFailed
from node.demo.story import CITY, COMMUNES, VOTE_SECONDS, Cast, close_when_due, closes_in

# Each commune's assembly: for, against; the position it gives; its spokesperson.
ASSEMBLIES = {"maizal": (31, 2, "approve", "jose"), "cumbe": (24, 6, "approve", "pedro"),
              "sabana": (5, 19, "reject", "luis")}


def _row(who: Person, handle: str, matter: str) -> dict[str, Any] | None:
    rows = who.get(f"/api/v1/bodies/{handle}/proposals?limit=100")["items"]
    found = [r for r in rows if r["federated"] and r["federated"]["matter"] == matter]
    return found[-1] if found else None


def _decided(who: Person, handle: str, matter: str) -> bool:
    row = _row(who, handle, matter) or {}
    return (row.get("federated") or {}).get("final_outcome") is not None


def _live_mandate(who: Person, proposal_id: int, body: str) -> dict[str, Any] | None:
    items = who.get(f"/api/v1/proposals/{proposal_id}/mandates")["items"]
    return next((m for m in items if m["state"] == "live" and m["member_body"] == body),
                None)


def _assembly(cast: Cast, handle: str, proposal_id: int) -> None:
    votes_for, against, position, speaker = ASSEMBLIES[handle]
    lead = cast.coordinator(handle)
    held = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    lead.post(f"/api/v1/bodies/{handle}/meetings", {
        "held_at": held, "place": "Casa comunal", "attendance": votes_for + against,
        "families": (votes_for + against) // 2, "agenda": "Acueducto compartido",
        "minutes": "Se leyó la propuesta de la ciudad y se votó a mano alzada.",
        "decisions": [{"proposal_id": proposal_id, "for": votes_for, "against": against}]})
    lead.post(f"/api/v1/proposals/{proposal_id}/mandate", {
        "position": position, "spokespersons": [cast.people[handle][speaker].id],
        "limits": "Votar según lo decidido en asamblea; informar a la comuna."})


def federated_matter(cast: Cast) -> None:
    carmen, alberto = cast.coordinator("maizal"), cast.coordinator(CITY)
    p = carmen.post("/api/v1/bodies/maizal/proposals", {
        "title": "Acueducto compartido El Maizal – Cumbe Adentro",
        "text": "Construir entre las dos comunas una toma en la quebrada y 4 km de tubería "
                "hasta los tanques de ambas; el trabajo lo ponen las brigadas comunales.",
        "affects": [cast.actor("maizal"), cast.actor("cumbe")]})
    sent = carmen.post(f"/api/v1/proposals/{p['id']}/deliberation")
    matter = (sent.get("federated") or {}).get("matter")
    if matter is None:  # the graph was not readable yet: it is sent on the next tick
        matter = wait(lambda: (carmen.get(f"/api/v1/proposals/{p['id']}")["federated"]
                               or {}).get("matter"), "el asunto sube a la ciudad")
    at_city = wait(lambda: _row(alberto, CITY, matter), "la ciudad recibe el asunto")
    cast.say("El asunto del acueducto subió a la ciudad comunal, que lo pasó a sus comunas.")

    rows = {c: wait(partial(_row, cast.coordinator(c), c, matter), f"{c} recibe el asunto")
            for c in COMMUNES}
    for c in COMMUNES:
        _assembly(cast, c, rows[c]["id"])
    city_mandates = f"/api/v1/proposals/{at_city['id']}/mandates"
    wait(lambda: sum(m["state"] == "live" for m in alberto.get(city_mandates)["items"]) == 3,
         "los tres mandatos llegan a la ciudad")
    cast.say("Cada comuna decidió en asamblea y dio su mandato a una vocería.")

    alberto.post(f"/api/v1/proposals/{at_city['id']}/vote",
                 {"closes_at": closes_in(VOTE_SECONDS + 6)})
    choices = {"maizal": "for", "cumbe": "for", "sabana": "against"}
    for c in COMMUNES:
        speaker = cast.people[c][ASSEMBLIES[c][3]]
        mandate = wait(partial(_live_mandate, cast.coordinator(c), rows[c]["id"],
                               cast.actor(c)), f"el mandato de {c}")
        speaker.call("post", f"/api/v1/mandates/{mandate['id']}/vote",
                     json={"choice": choices[c]}, expect=(202,))
    _recall_in_sabana(cast, rows["sabana"]["id"], city_mandates)
    counted = f"/api/v1/proposals/{at_city['id']}/mandated-votes"
    wait(lambda: sum(v["state"] == "counted" for v in alberto.get(counted)["items"]) == 3,
         "los tres votos contados en la ciudad")
    decision = close_when_due(alberto, at_city["id"])
    cast.say(f"La ciudad decidió por mandatos: {decision['record']['counts']['for']} a favor, "
             f"{decision['record']['counts']['against']} en contra.")
    for c in COMMUNES:
        wait(partial(_decided, cast.coordinator(c), c, matter), f"{c} recibe la decisión")
    cast.say("La decisión bajó a las tres comunas, que pueden verificarla.")


def _recall_in_sabana(cast: Cast, proposal_id: int, city_mandates: str) -> None:
    """La Sabana's assembly names Petra instead of Luis: his vote is withdrawn."""
    mariela, petra = cast.coordinator("sabana"), cast.people["sabana"]["petra"]
    old = _live_mandate(mariela, proposal_id, cast.actor("sabana"))
    if old is None:
        raise DemoFailed("La Sabana no tiene un mandato vigente que revocar")
    mariela.post(f"/api/v1/mandates/{old['id']}/recall",
                 {"reason": "La asamblea nombró a Petra como vocera."})
    mariela.post(f"/api/v1/proposals/{proposal_id}/mandate", {
        "position": "reject", "spokespersons": [petra.id],
        "limits": "Votar en contra, como decidió la asamblea."})
    new = wait(lambda: _live_mandate(mariela, proposal_id, cast.actor("sabana")),
               "el nuevo mandato de La Sabana")
    # Her vote counts once the city holds the mandate that names her.
    alberto = cast.coordinator(CITY)
    wait(lambda: any(m["state"] == "live" and m["member_body"] == cast.actor("sabana")
                     and any(s.endswith("/petra") for s in m["spokespersons"])
                     for m in alberto.get(city_mandates)["items"]),
         "la ciudad recibe el mandato de Petra")
    petra.call("post", f"/api/v1/mandates/{new['id']}/vote", json={"choice": "against"},
               expect=(202,))
    cast.say("La Sabana revocó el mandato de Luis y nombró a Petra.")
