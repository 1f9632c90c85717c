"""A body's ledger: for each resource, what it gave to each partner (solid bar) and
received from it (hollow bar), from confirmed deliveries only (economy.ledger)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from node.web.pictures import bars
from node.web.pictures.svg import Canvas, figure, table


def ledger(body: str, lines: list[dict[str, Any]], words: bars.Words) -> Markup:
    """`lines` as economy.ledger.of_body gives them."""
    name_of, kind_name, amount, unit_name, _ = (
        words.name_of, words.kind_name, words.amount, words.unit_name, words._)
    caption = _("Lo que dimos y recibimos, por recurso")
    if not lines:
        return figure("pic-ledger", caption, None, None, _(
            "Todavía no hay entregas confirmadas: nada que dibujar."))
    # (kind, unit) -> partner -> [gave, received]
    grouped: dict[tuple[str, str], dict[str, list[Decimal]]] = defaultdict(
        lambda: defaultdict(lambda: [Decimal(0), Decimal(0)]))
    for line in lines:
        for side, key in ((0, "gave"), (1, "received")):
            for a in line[key]:
                grouped[(a["kind"], a["unit"])][line["partner"]][side] += Decimal(a["quantity"])
    groups, rows = [], []
    for (kind, unit), partners in sorted(grouped.items(),
                                         key=lambda kv: (kind_name(kv[0][0]), kv[0][1])):
        heading = f"{kind_name(kind)} ({unit_name(unit)})"
        shown = []
        for partner, (gave, got) in sorted(partners.items(), key=lambda kv: name_of(kv[0])):
            gave_text, got_text = amount(str(gave), unit), amount(str(got), unit)
            shown.append(bars.Row(name_of(partner), [
                bars.Bar(gave, _("dimos %(a)s") % {"a": gave_text}),
                bars.Bar(got, _("recibimos %(a)s") % {"a": got_text}, solid=False)]))
            rows.append((kind_name(kind), name_of(partner), gave_text, got_text))
        groups.append(bars.Group(heading, shown))
    c = Canvas("pic-ledger", _("Lo que %(body)s dio y recibió") % {"body": body},
               _("Un grupo por recurso, una fila por instancia con la que hubo "
                 "entregas: la barra llena es lo que dimos, la hueca lo que recibimos. "
                 "Cada recurso tiene su propia escala."))
    bars.draw(c, groups, bars.legend(c, _("dimos"), _("recibimos")))
    alternative = table(_("Entregas confirmadas, por recurso"),
                        [_("Recurso"), _("Con"), _("Dimos"), _("Recibimos")], rows)
    return figure("pic-ledger", caption, c.svg(), alternative)
