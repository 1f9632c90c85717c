"""Participation over time: for each assembly and online vote of a body, oldest at the
top, two bars: the people who took part (solid) and their families (hollow), each as
a share of those who could have taken part, with the numbers written beside them.
Every bar has the same scale (all of the electorate), so rows compare honestly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from markupsafe import Markup

from node.governance.participation import ASSEMBLY, Turnout
from node.web.pictures.svg import BLUE, INK, MUTED, ORANGE, TRACK, Canvas, figure, fit, table

T = Callable[[str], str]

BAR = 180  # the full bar: everyone who could have taken part
ROW = 58


def _word(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def participation(body: str, turnouts: list[Turnout], day: Callable[[datetime], str],
                  _: T) -> Markup:
    caption = _("La participación a lo largo del tiempo")
    if not turnouts:
        return figure("pic-participation", caption, None, None, _(
            "Todavía no hay asambleas registradas ni votaciones cerradas."))
    kinds = {ASSEMBLY: _("Asamblea"), "online": _("Votación en línea")}

    def people(t: Turnout) -> str:
        return _("%(n)s de %(of)s %(word)s") % {
            "n": t.people, "of": t.of_people,
            "word": _word(t.of_people, _("persona"), _("personas"))}

    def families(t: Turnout) -> str:
        return _("%(n)s de %(of)s %(word)s") % {
            "n": t.families, "of": t.of_families,
            "word": _word(t.of_families, _("familia"), _("familias"))}

    c = Canvas("pic-participation",
               _("Participación en %(body)s, asamblea por asamblea y votación por votación")
               % {"body": body},
               _("Cada fila es una asamblea o una votación, de la más antigua a la más "
                 "reciente. La barra llena mide las personas que participaron; la barra "
                 "hueca, sus familias; la barra entera es quienes podían participar."))
    # The legend says in words which bar is which; fill and outline tell them apart too.
    c.rect(0, 2, 14, 10, fill=BLUE)
    c.text(20, 12, _("personas"), fill=INK)
    c.rect(110, 2, 14, 10, fill="#ffffff", stroke=ORANGE, stroke_width=2)
    c.text(130, 12, _("familias"), fill=INK)
    y = 24.0
    for t in turnouts:
        c.text(0, y + 13, fit(f"{day(t.at)} · {kinds[t.method]}", 336), fill=INK,
               font_weight="600")
        for i, (n, of, words, solid) in enumerate((
                (t.people, t.of_people, people(t), True),
                (t.families, t.of_families, families(t), False))):
            top = y + 20 + i * 16
            c.rect(0, top, BAR, 11, fill=TRACK)
            share = min(n / of, 1.0) if of > 0 else 0.0
            if share > 0:
                if solid:
                    c.rect(0, top, BAR * share, 11, fill=BLUE)
                else:
                    c.rect(1, top + 1, max(BAR * share - 2, 1), 9, fill="#ffffff",
                           stroke=ORANGE, stroke_width=2)
            c.text(BAR + 8, top + 10, fit(words, 336 - BAR - 8, 12), fill=MUTED,
                   font_size=12)
        y += ROW
    rows = [(day(t.at), kinds[t.method], people(t), families(t)) for t in turnouts]
    alternative = table(_("Participación, de la más antigua a la más reciente"),
                        [_("Fecha"), _("Cómo"), _("Personas"), _("Familias")], rows)
    return figure("pic-participation", caption, c.svg(), alternative)
