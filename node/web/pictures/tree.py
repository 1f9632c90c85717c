"""The federation tree around a body: the federations it belongs to above, the body,
its member bodies below, one box per line so that every name can be read on a phone.
The matter picture (matter.py) draws the same tree with each member's standing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup

from node.web.pictures.svg import BLUE, GREEN, INK, MUTED, SIZE, WIDTH, Canvas, figure, fit, items

T = Callable[[str], str]

MOST = 40  # boxes drawn below the body; the rest are counted in words
TRUNK = 14  # x of the line joining the boxes
INDENT = 30  # where the boxes hanging from the line start
GAP = 8


@dataclass(frozen=True)
class Box:
    name: str
    note: str = ""  # a second line in the box: a state, said in words
    # plain | centre | waiting (dashed: not settled) | given (thick border) | done (filled)
    look: str = "plain"


def _box(c: Canvas, x: float, y: float, box: Box) -> float:
    """Draw `box` with its top at `y`; returns its height."""
    h = 44.0 if box.note else 28.0
    w = WIDTH - x - 1
    fill, ink, stroke, width, dash = "#ffffff", INK, MUTED, 1.0, None
    if box.look == "centre":
        stroke, width = INK, 2.0
    elif box.look == "given":
        stroke, width = BLUE, 3.0
    elif box.look == "done":
        fill, ink, stroke = GREEN, "#ffffff", GREEN
    elif box.look == "waiting":
        dash = "5 4"
    c.rect(x, y, w, h, rx=4, fill=fill, stroke=stroke, stroke_width=width,
           stroke_dasharray=dash)
    weight = "700" if box.look == "centre" else None
    c.text(x + 8, y + 19, fit(box.name, w - 16), fill=ink, font_weight=weight)
    if box.note:
        c.text(x + 8, y + 36, fit(box.note, w - 16, SIZE - 1), fill=ink,
               font_size=SIZE - 1)
    return h


def draw(c: Canvas, above: list[Box], centre: Box, below: list[Box], _: T) -> None:
    """Above: headed "Pertenece a"; below: headed "Instancias miembros"; a line from the
    first federation down to the last member shows what hangs from what."""
    y = 0.0
    joints: list[float] = []
    if above:
        c.text(0, y + 14, _("Pertenece a"), fill=MUTED)
        y += 22
        for box in above:
            h = _box(c, INDENT, y, box)
            joints.append(y + h / 2)
            y += h + GAP
    top = y
    h = _box(c, 0, y, centre)
    centre_bottom = y + h
    y += h + GAP
    if below:
        c.text(INDENT, y + 14, _("Instancias miembros"), fill=MUTED)
        y += 22
        for box in below[:MOST]:
            h = _box(c, INDENT, y, box)
            joints.append(y + h / 2)
            y += h + GAP
        if len(below) > MOST:
            c.text(INDENT, y + 14, _("y %(n)s más (en la lista)") % {"n": len(below) - MOST},
                   fill=MUTED)
    for j in joints:
        c.line(TRUNK, j, INDENT, j, stroke_width=1.5)
    if above:
        c.line(TRUNK, joints[0], TRUNK, top, stroke_width=1.5)
    if below:
        c.line(TRUNK, centre_bottom, TRUNK, joints[-1], stroke_width=1.5)


def federation_tree(body: str, federations: list[tuple[str, bool]], members: list[str],
                    _: T) -> Markup:
    """The tree around `body`: `federations` as (name, accepted), `members` by name."""
    caption = _("Dónde está en la federación")
    if not federations and not members:
        return figure("pic-tree", caption, None, None, _(
            "Todavía no pertenece a ninguna federación ni tiene instancias miembros: "
            "no hay árbol que mostrar."))
    waiting = _("solicitud sin respuesta")
    above = [Box(n, "" if ok else waiting, "plain" if ok else "waiting")
             for n, ok in federations]
    below = [Box(n) for n in members]
    accepted = [n for n, ok in federations if ok]
    desc = " ".join([
        _("Pertenece a: %(names)s.") % {"names": ", ".join(accepted)} if accepted else
        _("No pertenece a ninguna federación todavía."),
        _("Instancias miembros: %(names)s.") % {"names": ", ".join(members)} if members else
        _("Sin instancias miembros.")])
    c = Canvas("pic-tree", _("Árbol de la federación alrededor de %(body)s") % {"body": body},
               desc)
    draw(c, above, Box(body, look="centre"), below, _)
    lines = [_("%(body)s pertenece a %(fed)s") % {"body": body, "fed": n} for n in accepted]
    lines += [_("%(body)s pidió entrar a %(fed)s (sin respuesta)") % {"body": body, "fed": n}
              for n, ok in federations if not ok]
    lines += [_("%(member)s es miembro de %(body)s") % {"member": n, "body": body}
              for n in members]
    return figure("pic-tree", caption, c.svg(), items(lines))
