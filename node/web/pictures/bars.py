"""Horizontal bars in groups, for the economy's pictures: one group per resource and
unit (kilograms of maize are never measured against cylinders of gas), one row per
partner or pair of bodies, each bar with its amount written beside it. The longest
bar of a group fills the width; each group has its own scale, said in its heading."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from node.web.pictures.svg import BLUE, INK, MUTED, ORANGE, SIZE, TRACK, WIDTH, Canvas, fit

BAR = 150


@dataclass(frozen=True)
class Words:
    """How the economy's pictures name things, as the page does."""

    name_of: Callable[[str], str]  # a body or enterprise, by URI
    kind_name: Callable[[str], str]
    amount: Callable[[str, str], str]  # quantity and unit, "3 bombonas"
    unit_name: Callable[[str], str]
    _: Callable[[str], str]


@dataclass(frozen=True)
class Bar:
    value: Decimal
    text: str  # the amount in words, drawn beside the bar
    solid: bool = True  # solid (blue) or hollow (orange outline): two series


@dataclass(frozen=True)
class Row:
    label: str
    bars: list[Bar]


@dataclass(frozen=True)
class Group:
    heading: str
    rows: list[Row]


def legend(c: Canvas, solid: str, hollow: str) -> float:
    c.rect(0, 2, 14, 10, fill=BLUE)
    c.text(20, 12, fit(solid, 130), fill=INK)
    c.rect(160, 2, 14, 10, fill="#ffffff", stroke=ORANGE, stroke_width=2)
    c.text(180, 12, fit(hollow, WIDTH - 180), fill=INK)
    return 26.0


def draw(c: Canvas, groups: list[Group], y: float = 0.0) -> None:
    for g in groups:
        top = max((b.value for r in g.rows for b in r.bars), default=Decimal(0))
        c.text(0, y + 14, fit(g.heading, WIDTH), font_weight="700")
        y += 22
        for r in g.rows:
            c.text(0, y + 13, fit(r.label, WIDTH), fill=INK)
            y += 18
            for b in r.bars:
                c.rect(0, y, BAR, 11, fill=TRACK)
                share = float(b.value / top) if top > 0 else 0.0
                if share > 0:
                    if b.solid:
                        c.rect(0, y, max(BAR * share, 1), 11, fill=BLUE)
                    else:
                        c.rect(1, y + 1, max(BAR * share - 2, 1), 9, fill="#ffffff",
                               stroke=ORANGE, stroke_width=2)
                c.text(BAR + 8, y + 10, fit(b.text, WIDTH - BAR - 8, 12), fill=MUTED,
                       font_size=12)
                y += 16
            y += 4
        y += 8
    c.height = max(c.height, y - SIZE)
