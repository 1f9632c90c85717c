"""The demo's economy: a three-way barter the city closes among its communes (gas for
papaya for maize flour), the gas handed over in two deliveries, and two records in
the project bank, one of them taken up by another commune."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from node.demo.client import Person, wait
from node.demo.story import CITY, COMMUNES, Cast
from node.economy.catalogue import shared

NS = shared().namespace
RISE_AFTER = 2  # seconds an offer or need waits at its commune before rising


def _publish(who: Person, handle: str, side: str, kind: str, quantity: str, unit: str,
             summary: str, enterprise: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"side": side, "kind": NS + kind, "quantity": quantity,
                            "unit": unit, "rise_after": RISE_AFTER, "summary": summary}
    if enterprise:
        body["enterprise"] = enterprise
    return dict(who.post(f"/api/v1/bodies/{handle}/intents", body))


def _cycle(who: Person, handle: str, parties: set[str], state: str) -> dict[str, Any] | None:
    for ex in who.get(f"/api/v1/bodies/{handle}/exchanges")["items"]:
        if ex["mode"] == "barter" and set(ex["parties"]) == parties and ex["state"] == state:
            return dict(ex)
    return None


def barter(cast: Cast) -> None:
    lead = {h: cast.coordinator(h) for h in (*COMMUNES, CITY)}
    lead["maizal"].post("/api/v1/bodies/maizal/enterprises",
                        {"slug": "gas", "name": "Empresa comunal de gas El Maizal"})
    lead["cumbe"].post("/api/v1/bodies/cumbe/enterprises",
                       {"slug": "finca", "name": "Finca familiar Los Ríos"})
    _publish(lead["maizal"], "maizal", "offer", "gas", "20", "cylinder",
             "Bombonas de gas de la planta comunal", "gas")
    _publish(lead["maizal"], "maizal", "need", "maize-flour", "300", "kilogram",
             "Harina para la casa de alimentación")
    _publish(lead["cumbe"], "cumbe", "offer", "papaya", "500", "kilogram",
             "Lechosa de la cosecha de noviembre", "finca")
    _publish(lead["cumbe"], "cumbe", "need", "gas", "100", "kilogram",
             "Gas para la finca", "finca")
    _publish(lead["sabana"], "sabana", "offer", "maize-flour", "1", "tonne",
             "Harina del molino comunal")
    _publish(lead["sabana"], "sabana", "need", "papaya", "200", "kilogram",
             "Fruta para el programa escolar")
    cast.say("Las comunas publicaron sus ofertas y necesidades.")

    parties = {cast.actor(h) for h in COMMUNES}
    wait(lambda: _cycle(lead[CITY], CITY, parties, "proposed"),
         "la ciudad propone el trueque entre las tres comunas")
    for h in COMMUNES:
        ex = wait(partial(_cycle, lead[h], h, parties, "proposed"),
                  f"{h} recibe la propuesta de trueque")
        lead[h].post(f"/api/v1/bodies/{h}/exchanges/{ex['id']}/answer",
                     {"accept": True, "reason": "Lo aprobó el consejo de economía."})
    agreed = wait(lambda: _cycle(lead["maizal"], "maizal", parties, "agreed"),
                  "el trueque queda acordado")
    cast.say("La ciudad cerró un trueque a tres bandas: gas, lechosa y harina.")

    gas = next(c for c in agreed["commitments"] if c["provider"] == cast.actor("maizal"))
    first = Decimal(gas["quantity"]) * 3 / 5
    for quantity, note in ((first, "Primera entrega en el camión de la comuna"),
                           (Decimal(gas["quantity"]) - first, "Resto de las bombonas")):
        lead["maizal"].post(f"/api/v1/bodies/maizal/commitments/{gas['id']}/deliveries",
                            {"quantity": str(quantity), "note": note})

    def to_confirm() -> list[dict[str, Any]]:
        items = lead["cumbe"].get("/api/v1/bodies/cumbe/deliveries")["items"]
        mine = [e for e in items
                if e["receiver"] == cast.actor("cumbe") and e["state"] == "recorded"]
        return mine if len(mine) == 2 else []

    for event in wait(to_confirm, "Cumbe Adentro recibe las entregas de gas"):
        lead["cumbe"].post(f"/api/v1/bodies/cumbe/deliveries/{event['id']}/confirm",
                           {"accept": True})
    cast.say("El Maizal entregó el gas en dos viajes y Cumbe Adentro confirmó ambos.")


def project_bank(cast: Cast) -> None:
    maizal, sabana, cumbe = (cast.coordinator(h) for h in ("maizal", "sabana", "cumbe"))
    biogas = maizal.post("/api/v1/bodies/maizal/projects", {
        "title": "Biodigestor de la escuela", "sector": "energía",
        "problem": "La cocina escolar se quedaba sin gas dos semanas al mes.",
        "actions": "Construimos un biodigestor con el estiércol de la finca comunal.",
        "resources": "Tanque de 5 m³, tubería, 40 horas de trabajo voluntario.",
        "outcome": "Gas para la cocina escolar todo el año.",
        "lessons": "Sellar bien las uniones y medir la presión cada semana.",
        "evaluation": "Muy buena"})
    sabana.post("/api/v1/bodies/sabana/projects", {
        "title": "Casa de semillas criollas", "sector": "agricultura",
        "problem": "Cada siembra dependía de semilla comprada fuera.",
        "actions": "Recogimos y guardamos maíz, caraota y frijol de las familias.",
        "resources": "Un cuarto fresco, frascos, un cuaderno de registro.",
        "outcome": "Semilla para 60 familias en la siembra de mayo.",
        "lessons": "Secar bien antes de guardar; rotar los frascos cada mes.",
        "evaluation": "Buena"})

    def known_at_cumbe() -> dict[str, Any] | None:
        found = cumbe.get("/api/v1/projects?q=biodigestor")["items"]
        return next((r for r in found if r["uri"] == biogas["uri"]), None)

    record = wait(known_at_cumbe, "el banco de proyectos llega a Cumbe Adentro")
    cumbe.post(f"/api/v1/bodies/cumbe/projects/{record['id']}/adopt",
               {"note": "Lo haremos en el liceo de Cumbe Adentro."})
    cast.say("El banco de proyectos tiene dos experiencias; Cumbe Adentro adoptó una.")
