"""The demo's people and the governance half of its story: who lives where, how they
come together in a federation, a commune's own decision, and a matter of two
communes decided at the communal city with mandates and a recall."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from node.demo.client import Person, join, wait
from node.demo.nodes import Federation

CITY = "tierra_nueva"
COMMUNES = ("maizal", "cumbe", "sabana")
NODES = [(CITY, "Ciudad Comunal Tierra Nueva", "city"),
         ("maizal", "Comuna El Maizal", "commune"),
         ("cumbe", "Comuna Cumbe Adentro", "commune"),
         ("sabana", "Comuna La Sabana", "commune")]
# username, name, family; the first of each node coordinates it.
PEOPLE = {
    CITY: [("alberto", "Alberto Guevara", "Guevara")],
    "maizal": [("carmen", "Carmen Rangel", "Rangel"), ("jose", "José Pérez", "Pérez"),
               ("yelitza", "Yelitza Mora", "Mora"), ("ramon", "Ramón Colmenares", "Mora")],
    "cumbe": [("luisa", "Luisa Ochoa", "Ochoa"), ("pedro", "Pedro Carrasco", "Carrasco"),
              ("ana", "Ana Tovar", "Tovar")],
    "sabana": [("mariela", "Mariela Bastidas", "Bastidas"), ("luis", "Luis Aponte", "Aponte"),
               ("petra", "Petra Linares", "Linares")],
}
# Councils inside the communes: handle, name, kind.
COUNCILS = {
    "maizal": [("maizal_economia", "Consejo de Economía Comunal de El Maizal",
                "sectoral_council"),
               ("cc_la_ceiba", "Consejo Comunal La Ceiba", "communal_council")],
    "cumbe": [("cc_los_rios", "Consejo Comunal Los Ríos", "communal_council")],
    "sabana": [("sabana_salud", "Consejo de Salud de La Sabana", "sectoral_council")],
}
# How long the demo's online votes stay open: long enough to watch them on the pages;
# its test shortens them (a vote still closes at its deadline, never before).
VOTE_SECONDS = max(2, int(os.environ.get("COMUNA_DEMO_VOTE_SECONDS", "") or 8))


@dataclass
class Cast:
    """Everyone in the story, by node and username."""

    fed: Federation
    people: dict[str, dict[str, Person]] = field(default_factory=dict)
    say: Callable[[str], None] = print

    def coordinator(self, handle: str) -> Person:
        return self.people[handle][PEOPLE[handle][0][0]]

    def actor(self, handle: str) -> str:
        return self.fed[handle].actor


def gather(fed: Federation, say: Callable[[str], None]) -> Cast:
    """Each node's coordinator from its terminal, then the people they invite."""
    cast = Cast(fed, say=say)

    def settle(handle: str) -> dict[str, Person]:
        node = fed[handle]
        first, *others = PEOPLE[handle]
        lead = join(node, node.invitation(), *first)
        here = {lead.username: lead}
        for username, name, family in others:
            token = lead.post(f"/api/v1/bodies/{handle}/invitations",
                              {"role": "member"})["token"]
            here[username] = join(node, token, username, name, family)
        return here

    with ThreadPoolExecutor(len(PEOPLE)) as pool:
        for handle, here in zip(PEOPLE, pool.map(settle, PEOPLE), strict=True):
            cast.people[handle] = here
    say("Cada comuna y la ciudad tienen su coordinación y sus integrantes.")
    for handle, councils in COUNCILS.items():
        for slug, name, kind in councils:
            cast.coordinator(handle).post(f"/api/v1/bodies/{handle}/bodies",
                                          {"handle": slug, "name": name, "kind": kind})
    say("Las comunas crearon sus consejos comunales y de economía.")
    return cast


def federate(cast: Cast) -> None:
    """The city admits its communes as they ask; each commune asks to join."""
    city = cast.coordinator(CITY)
    city.call("put", f"/api/v1/bodies/{CITY}/statute",
              json={"rule": "majority", "admission": "open", "quorum": "1/2"})
    for c in COMMUNES:
        cast.coordinator(c).post(f"/api/v1/bodies/{c}/federations",
                                 {"federation": cast.actor(CITY), "families": 40})

    def joined() -> bool:
        for c in COMMUNES:
            links = cast.coordinator(c).get(f"/api/v1/bodies/{c}/federations")["items"]
            if not any(x["remote"] == cast.actor(CITY) and x["state"] == "accepted"
                       for x in links):
                return False
        return True

    wait(joined, "las comunas entran a la ciudad comunal")

    def everyone_sees_the_city() -> bool:
        # A matter of two communes is the city's once each commune's copy of the
        # graph says so (the city's `Update` reaches them after its admissions).
        return all(cast.coordinator(c).call(
            "get", "/api/v1/deciding-level",
            params={"here": c, "affects": [cast.actor(c), cast.actor(o)]})["level"]
            == cast.actor(CITY) for c in COMMUNES for o in COMMUNES if o != c)

    wait(everyone_sees_the_city, "cada comuna ve a la ciudad sobre ella")
    cast.say("Las tres comunas forman la Ciudad Comunal Tierra Nueva.")


def closes_in(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def close_when_due(who: Person, proposal_id: int) -> dict[str, Any]:
    def closed() -> Any:
        # 409 until the deadline has passed (or if the node's clock closed it first).
        who.call("post", f"/api/v1/proposals/{proposal_id}/close", expect=(200, 409))
        row = who.get(f"/api/v1/proposals/{proposal_id}")
        return row if row["decision_id"] is not None else None

    row = wait(closed, "el cierre de la votación", VOTE_SECONDS + 60)
    return dict(who.get(f"/api/v1/decisions/{row['decision_id']}"))


def local_decision(cast: Cast) -> None:
    """El Maizal decides on its own, online: a river clean-up."""
    carmen, people = cast.coordinator("maizal"), cast.people["maizal"]
    p = people["jose"].post("/api/v1/bodies/maizal/proposals", {
        "title": "Jornada de limpieza del río Turbio",
        "text": "Convocamos a las familias a limpiar las orillas del río el primer "
                "sábado del mes; la comuna aporta bolsas, guantes y el almuerzo."})
    people["jose"].post(f"/api/v1/proposals/{p['id']}/deliberation")
    people["yelitza"].post(f"/api/v1/proposals/{p['id']}/comments",
                           {"text": "Propongo que la escuela se sume con los muchachos."})
    carmen.post(f"/api/v1/proposals/{p['id']}/vote", {"closes_at": closes_in(VOTE_SECONDS)})
    for username, choice in (("carmen", "for"), ("jose", "for"), ("yelitza", "for"),
                             ("ramon", "abstain")):
        people[username].call("put", f"/api/v1/proposals/{p['id']}/ballot",
                              json={"version": 1, "choice": choice})
    decision = close_when_due(carmen, p["id"])
    carmen.post(f"/api/v1/decisions/{decision['id']}/execution",
                {"state": "in_progress", "notes": "Bolsas y guantes comprados."})
    cast.say("El Maizal aprobó en votación en línea su jornada de limpieza del río.")


def call_assembly(cast: Cast) -> None:
    """El Maizal calls its next assembly, with a proposal still under discussion on the
    agenda: followers see an Event, phones the calendar feed."""
    carmen, yelitza = cast.coordinator("maizal"), cast.people["maizal"]["yelitza"]
    p = yelitza.post("/api/v1/bodies/maizal/proposals", {
        "title": "Huerto escolar comunitario",
        "text": "Sembrar un huerto en el patio de la escuela, atendido por las familias "
                "y los muchachos, para el comedor escolar."})
    yelitza.post(f"/api/v1/proposals/{p['id']}/deliberation")
    starts = (datetime.now(UTC) + timedelta(days=5)).replace(hour=22, minute=0, second=0,
                                                             microsecond=0)
    carmen.post("/api/v1/bodies/maizal/assemblies", {
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "place": "Casa comunal El Maizal", "address": "Calle principal, sector La Ceiba",
        "description": "Asamblea ordinaria de ciudadanas y ciudadanos.",
        "agenda": [p["id"]]})
    cast.say("El Maizal convocó su próxima asamblea, con el huerto escolar en el orden "
             "del día.")
