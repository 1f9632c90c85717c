"""Where a federated matter stands on the federation tree: the federation deciding it
above, its member bodies below, each box saying in words whether that body has voted
(filled), has mandated its spokespersons (thick border) or is still pending (dashed)."""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup

from node.federations.standing import MANDATED, PENDING, VOTED, Tree
from node.web.pictures.svg import Canvas, figure, table
from node.web.pictures.tree import Box, draw

T = Callable[[str], str]


def matter_standing(tree: Tree | None, names: dict[str, str], positions: dict[str, str],
                    choices: dict[str, str], _: T) -> Markup | None:
    """None for a matter that is not federated (the page shows nothing then)."""
    if tree is None:
        return None
    caption = _("Dónde está el asunto en la federación")
    fed = names.get(tree.federation, "")
    if not tree.members:
        return figure("pic-matter", caption, None, None, _(
            "La federación todavía no tiene instancias miembros que den su mandato."))
    words = {VOTED: _("votó"), MANDATED: _("con mandato"), PENDING: _("pendiente")}
    looks = {VOTED: "done", MANDATED: "given", PENDING: "waiting"}
    rows, boxes = [], []
    for m in sorted(tree.members, key=lambda m: (names.get(m.body, ""), m.body)):
        said = words[m.state]
        detail = ""
        if m.state == VOTED:
            detail = choices.get(m.choice, m.choice)
        elif m.state == MANDATED:
            detail = positions.get(m.position, m.position)
        name = names.get(m.body, "")
        boxes.append(Box(name, f"{said}: {detail}" if detail else said, looks[m.state]))
        rows.append((name, said, detail))
    counts = {s: sum(1 for m in tree.members if m.state == s) for s in words}
    summary = (_("Votaron: %(voted)s · con mandato, sin votar: %(mandated)s · "
                 "pendientes: %(pending)s.") % counts)
    if not tree.whole:
        summary += " " + _("Las demás instancias miembros no se ven desde aquí.")
    c = Canvas("pic-matter", _("El asunto ante %(fed)s") % {"fed": fed}, summary)
    draw(c, [], Box(fed, look="centre"), boxes, _)
    alternative = table(summary, [_("Instancia"), _("Estado"), _("Detalle")], rows)
    return figure("pic-matter", caption, c.svg(), alternative)
