"""Goods moving between the member bodies of a federation over a period: for each
resource, one bar per pair "who gave → who received", from confirmed deliveries only
(economy.ledger.flows)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from markupsafe import Markup

from node.web.pictures import bars
from node.web.pictures.svg import Canvas, figure, table


def flows(period: str, lines: list[dict[str, Any]], words: bars.Words) -> Markup:
    """`lines` as economy.ledger.flows gives them; `period` says which, in words."""
    name_of, kind_name, amount, unit_name, _ = (
        words.name_of, words.kind_name, words.amount, words.unit_name, words._)
    caption = _("Bienes entre las instancias integrantes (%(period)s)") % {"period": period}
    if not lines:
        return figure("pic-flows", caption, None, None, _(
            "No hubo entregas confirmadas entre las instancias integrantes en este período."))
    grouped: dict[tuple[str, str], list[tuple[str, str, Decimal]]] = {}
    for line in lines:
        for a in line["resources"]:
            grouped.setdefault((a["kind"], a["unit"]), []).append(
                (line["from"], line["to"], Decimal(a["quantity"])))
    groups, rows = [], []
    for (kind, unit), moves in sorted(grouped.items(),
                                      key=lambda kv: (kind_name(kv[0][0]), kv[0][1])):
        shown = []
        for giver, taker, q in sorted(moves, key=lambda m: (-m[2], name_of(m[0]))):
            pair = f"{name_of(giver)} → {name_of(taker)}"
            shown.append(bars.Row(pair, [bars.Bar(q, amount(str(q), unit))]))
            rows.append((kind_name(kind), name_of(giver), name_of(taker), amount(str(q), unit)))
        groups.append(bars.Group(f"{kind_name(kind)} ({unit_name(unit)})", shown))
    c = Canvas("pic-flows", caption,
               _("Un grupo por recurso; en cada fila, quién dio a quién y cuánto. Cada "
                 "recurso tiene su propia escala."))
    bars.draw(c, groups)
    alternative = table(_("Entregas confirmadas entre integrantes"),
                        [_("Recurso"), _("Dio"), _("Recibió"), _("Cantidad")], rows)
    return figure("pic-flows", caption, c.svg(), alternative)
