"""The shared catalogue of resource kinds and units, so that offers and needs made on
different nodes can be compared.

A kind is named by a URI: the shared ones live under one namespace and every node
knows them (catalogue.json); a node may add its own kinds under its own URL. Units are
the OM-2 names ValueFlows uses; a kind may add its own units (a gas cylinder is 10 kg).
The matcher works in integers: thousandths of the smallest unit of the kind's
dimension, so conversions and comparisons are exact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, Inexact, InvalidOperation, localcontext
from functools import cache
from importlib import resources
from typing import Any

from node.errors import Problem

SCALE = 1000  # base integers are thousandths of the dimension's smallest unit
PLACES = Decimal("0.001")


@dataclass(frozen=True)
class Kind:
    uri: str
    slug: str
    labels: dict[str, str]
    unit: str
    # Units of this kind only, as a number of `unit`.
    extra: dict[str, Decimal] = field(default_factory=dict)

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.labels.get("es") or self.slug


@dataclass(frozen=True)
class Catalogue:
    namespace: str
    units: dict[str, tuple[str, Decimal]]  # unit -> (dimension, factor to smallest)
    kinds: dict[str, Kind]  # by URI

    def kind(self, uri: str) -> Kind | None:
        return self.kinds.get(uri)

    def with_kinds(self, extra: list[Kind]) -> Catalogue:
        return Catalogue(self.namespace, self.units, {**self.kinds, **{k.uri: k for k in extra}})

    def units_of(self, uri: str) -> list[str]:
        """The units an amount of this kind may be given in."""
        kind = self.kinds.get(uri)
        if kind is None:
            return sorted(self.units)
        dim = self.units[kind.unit][0]
        return sorted([u for u, (d, _) in self.units.items() if d == dim] + list(kind.extra))

    def factor(self, uri: str, unit: str) -> tuple[str, Decimal]:
        """(dimension, how many smallest units one `unit` of this kind is)."""
        kind = self.kinds.get(uri)
        if kind is not None and unit in kind.extra:
            dim, base = self.units[kind.unit]
            return dim, kind.extra[unit] * base
        if unit in self.units:
            dim, f = self.units[unit]
            if kind is not None and self.units[kind.unit][0] != dim:
                raise Problem(422, "unit-mismatch",
                              f"{unit} is not a unit of {kind.slug} (measured in {kind.unit})")
            return dim, f
        raise Problem(422, "unknown-unit", f"unknown unit {unit!r} for {uri}")

    def to_base(self, uri: str, quantity: Decimal, unit: str) -> int:
        _, f = self.factor(uri, unit)
        return int((quantity * f * SCALE).to_integral_value(ROUND_FLOOR))

    def from_base(self, uri: str, base: int, unit: str) -> Decimal:
        """Rounded down, so that a converted amount never exceeds the original."""
        _, f = self.factor(uri, unit)
        return (Decimal(base) / (f * SCALE)).quantize(PLACES, ROUND_FLOOR)

    def exactly(self, uri: str, quantity: Decimal, unit: str, to: str) -> Decimal | None:
        """`quantity` of `unit` written in `to`, only if nothing is lost: the same
        dimension, and the result exact with at most three decimals (what any amount
        may have). None otherwise: 25 eggs are no whole number of thousandths of a dozen."""
        if unit == to:
            return quantity
        try:
            (dim, f), (dim_to, f_to) = self.factor(uri, unit), self.factor(uri, to)
        except Problem:
            return None
        if dim != dim_to:
            return None
        with localcontext() as exact:
            exact.traps[Inexact] = True
            exact.prec = 60
            try:
                value = quantity * f / f_to
                if value != value.quantize(PLACES):
                    return None
            except (Inexact, InvalidOperation):
                return None
        return value

    def comparable(self, uri: str, unit_a: str, unit_b: str) -> bool:
        try:
            return self.factor(uri, unit_a)[0] == self.factor(uri, unit_b)[0]
        except Problem:
            return False


def fmt(value: Decimal) -> str:
    """How amounts are stored and shown: plain digits, no trailing zeros ("4", "2.5")."""
    text = format(value.quantize(PLACES).normalize(), "f")
    return "0" if text in ("-0", "0E-3") else text


def quantity(value: Any, zero: bool = False) -> Decimal:
    """A positive amount with at most three decimals, or a 422. With `zero`, 0 is
    allowed too: what is left of an offer or need once it is gone."""
    try:
        q = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise Problem(422, "bad-quantity", f"not a number: {value!r}") from exc
    low_ok = q >= 0 if zero else q > 0
    if not q.is_finite() or not low_ok or q != q.quantize(PLACES) or q > Decimal("1e9"):
        what = "zero or a positive number" if zero else "a positive number"
        raise Problem(422, "bad-quantity",
                      f"a quantity is {what} up to 1e9 with at most 3 decimals")
    return q


@cache
def shared() -> Catalogue:
    raw = json.loads(resources.files("node.economy").joinpath("catalogue.json").read_text())
    ns = raw["namespace"]
    units = {name: (u["dimension"], Decimal(u["factor"])) for name, u in raw["units"].items()}
    kinds = {}
    for slug, k in raw["kinds"].items():
        kind = Kind(uri=ns + slug, slug=slug, labels={"es": k["es"], "en": k["en"]},
                    unit=k["unit"], extra={u: Decimal(v) for u, v in k.get("extra", {}).items()})
        kinds[kind.uri] = kind
    return Catalogue(ns, units, kinds)
