"""The economy's words as people read them: units with their plural, ValueFlows
actions, states, sides and buttons in Spanish (English through the catalogue), and
quantities written the way the reader writes numbers. Only names and words reach the
page: never a unit code, an enum value or an URL."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, select

from node.activitypub.urls import Urls
from node.federations.names import fallback, names
from node.models import Enterprise, LocalActor

T = Callable[[str], str]


def units(_: T) -> dict[str, tuple[str, str]]:
    """unit -> (one, many). Units a node adds to its own kinds are shown as named."""
    return {
        "gram": (_("gramo"), _("gramos")), "kilogram": (_("kilogramo"), _("kilogramos")),
        "tonne": (_("tonelada"), _("toneladas")),
        "millilitre": (_("mililitro"), _("mililitros")), "litre": (_("litro"), _("litros")),
        "cubicMetre": (_("metro cúbico"), _("metros cúbicos")),
        "hour": (_("hora"), _("horas")), "minute": (_("minuto"), _("minutos")),
        "one": (_("unidad"), _("unidades")), "cylinder": (_("bombona"), _("bombonas")),
        "dozen": (_("docena"), _("docenas")), "tray": (_("cartón"), _("cartones")),
        "sack": (_("saco"), _("sacos")),
    }


def vf_actions(_: T) -> dict[str, str]:
    """ValueFlows actions of a plan's commitments."""
    return {
        "work": _("trabajo"), "use": _("uso"), "consume": _("consumo"),
        "cite": _("consulta"), "pickup": _("retiro"), "accept": _("recepción"),
        "produce": _("producción"), "deliverService": _("servicio prestado"),
        "dropoff": _("entrega"), "modify": _("reparación o modificación"),
        "transfer": _("transferencia"), "transferAllRights": _("traspaso de propiedad"),
        "transferCustody": _("traspaso de custodia"), "raise": _("aumento"),
        "lower": _("disminución"), "move": _("traslado"),
    }


def labels(_: T) -> dict[str, Any]:
    """Everything the economy page names, for its template."""
    return {
        "sides": {"offer": _("Oferta"), "need": _("Necesidad")},
        "intent_states": {"open": _("abierta"), "matched": _("cubierta"),
                          "withdrawn": _("retirada")},
        "exchange_states": {"proposed": _("propuesto"), "agreed": _("acordado"),
                            "refused": _("rechazado")},
        "modes": {"allocation": _("dentro de la instancia"),
                  "barter": _("trueque entre instancias")},
        "commitment_states": {"proposed": _("propuesto"), "agreed": _("acordado"),
                              "partial": _("entregado en parte"),
                              "fulfilled": _("cumplido"), "cancelled": _("cancelado")},
        "event_states": {"recorded": _("por confirmar"), "confirmed": _("confirmada"),
                         "disputed": _("objetada")},
        "plan_states": {"proposed": _("en decisión"), "approved": _("aprobado"),
                        "refused": _("rechazado")},
        "vf": vf_actions(_),
        "unit_names": {u: many for u, (_one, many) in units(_).items()},
    }


def _locale(lang: str) -> str:
    return "es_VE" if lang == "es" else "en"


def number(value: Decimal | str, lang: str) -> str:
    """A quantity as the reader writes it, thousands grouped (Babel): 1000.5 as
    "1.000,5" for Spanish readers, "1,000.5" for English ones; every decimal kept."""
    from babel.numbers import format_decimal

    try:
        exact = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not exact.is_finite():
        return str(value)
    return format_decimal(exact, locale=_locale(lang), decimal_quantization=False)


def parse_number(text: str, lang: str) -> Decimal:
    """A number as a reader of `lang` writes it: "1.000,5" is a thousand and a half in
    Spanish, "1,000.5" in English (Babel's strict parser, so a misplaced separator is an
    error, not a quietly different number: in Spanish a '.' groups thousands and must be
    followed by exactly three digits). A phone keypad may offer only the other decimal
    mark: "2.5" in Spanish (or "2,5" in English) is taken as a decimal when that reading
    is the only one ("1.500" stays fifteen hundred). ValueError when it is not a
    number."""
    from babel.numbers import NumberFormatError, parse_decimal

    text = text.strip()
    try:
        return parse_decimal(text, locale=_locale(lang), strict=True)
    except NumberFormatError:
        other = "." if lang == "es" else ","
        mine = "," if lang == "es" else "."
        if text.count(other) == 1 and mine not in text:
            try:
                return Decimal(text.replace(",", "."))
            except InvalidOperation as exc:
                raise ValueError(text) from exc
        raise ValueError(text) from None


def amount(value: Decimal | str, unit: str, _: T, lang: str) -> str:
    """"1 kilogramo", "2,5 kilogramos", "3 bombonas"."""
    try:
        one = Decimal(str(value)) == 1
    except InvalidOperation:
        one = False
    forms = units(_).get(unit)
    word = (forms[0] if one else forms[1]) if forms else unit
    return f"{number(value, lang)} {word}"


class Namer:
    """Names of the bodies and enterprises a page mentions, looked up together:
    our bodies and enterprises from our tables, remote bodies from their actor
    documents. A remote enterprise's name does not travel in the economy's activities
    (its URI does: `<body>/enterprises/<slug>`), so it reads "empresa de <its body>",
    never its slug."""

    def __init__(self, session: Session, urls: Urls, uris: Iterable[str],
                 _: T = lambda text: text) -> None:
        self._ = _
        wanted = {u for u in uris if u}
        bodies = {u.split("/enterprises/", 1)[0] if "/enterprises/" in u else u
                  for u in wanted}
        self.known = names(session, urls, bodies)
        for u in wanted:
            if "/enterprises/" in u:
                self.known[u] = self._enterprise(session, urls, u)

    def _enterprise(self, session: Session, urls: Urls, uri: str) -> str:
        body_uri, slug = uri.split("/enterprises/", 1)
        handle = urls.handle_of_actor(body_uri)
        if handle is not None:
            row = session.exec(select(Enterprise).join(
                LocalActor, LocalActor.id == Enterprise.body_id).where(  # type: ignore[arg-type]
                LocalActor.handle == handle, Enterprise.slug == slug)).first()
            if row is not None:
                return row.name
        return self._("empresa de %(body)s") % {
            "body": self.known.get(body_uri) or fallback(body_uri)}

    def __call__(self, uri: str) -> str:
        return self.known.get(uri) or fallback(uri)
