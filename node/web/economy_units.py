"""Which unit the economy page writes each quantity in: one resource, one unit.

An exchange's commitment is kept in the unit of the offer it draws on, so a commune
that needs 300 kilogramos of rice read the barter that brings them, its delivery and
its ledger as "0,3 toneladas", the giving commune's unit. The page now writes each
quantity in the unit the body itself published the resource in: what it receives, in
its need's unit; what it gives, in its offer's unit (which is the commitment's own);
anything else of that resource (a cycle's other steps, the ledger's totals, a plan),
in the unit of the body's own offer or need of it, or else the first one the page
shows. A quantity is converted only when nothing is lost (Catalogue.exactly); if it
cannot be, it stays in its own unit. A commitment the body may record a delivery of
keeps its own unit: the delivery form is read in it."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from node.economy.catalogue import Catalogue, fmt


class PageUnits:
    def __init__(self, cat: Catalogue, here: str, own: list[dict[str, Any]],
                 held: list[dict[str, Any]]) -> None:
        """`own`: the body's own offers and needs as the page lists them (newest first);
        `held`: those its member bodies sent up to it, listed next."""
        self.cat, self.here = cat, here
        self.of_intent = {i["uri"]: i["unit"] for i in own}
        self.of_kind: dict[str, str] = {}
        for i in own + held:
            self.of_kind.setdefault(i["kind"], i["unit"])
        # Commitment URI -> the unit it is shown in (its deliveries follow it).
        self.of_commitment: dict[str, str] = {}

    def _kind(self, kind: str, unit: str) -> str:
        return self.of_kind.setdefault(kind, unit)

    def _in(self, row: dict[str, Any], unit: str, keys: tuple[str, ...]) -> dict[str, Any]:
        """`row` with its quantities (`keys`) written in `unit`, if all convert exactly."""
        values = {}
        for key in keys:
            if row.get(key) is None:
                continue
            value = self.cat.exactly(row["kind"], Decimal(str(row[key])), row["unit"], unit)
            if value is None:
                return row
            values[key] = fmt(value)
        return {**row, **values, "unit": unit}

    def commitment(self, c: dict[str, Any]) -> dict[str, Any]:
        """An exchange's or a plan's commitment (with its `actions`), as the page shows it."""
        if "deliver" in (c.get("actions") or []):
            target = c["unit"]
        else:
            mine = [u for side, u in (("provider", c.get("offer")), ("receiver", c.get("need")))
                    if c.get(side) == self.here and u in self.of_intent]
            target = self.of_intent[str(mine[0])] if mine else self._kind(c["kind"], c["unit"])
        shown = self._in(c, target, ("quantity", "delivered"))
        if c.get("uri"):
            self.of_commitment[str(c["uri"])] = shown["unit"]
        self.of_kind.setdefault(c["kind"], shown["unit"])
        return shown

    def exchange(self, e: dict[str, Any]) -> dict[str, Any]:
        return {**e, "commitments": [self.commitment(c) for c in e["commitments"]]}

    def plan(self, p: dict[str, Any]) -> dict[str, Any]:
        return {**p, "commitments": [self.commitment(c) for c in p["commitments"]]}

    def event(self, ev: dict[str, Any]) -> dict[str, Any]:
        """A delivery, in the unit its commitment is shown in."""
        target = self.of_commitment.get(ev["commitment"]) or self._kind(ev["kind"], ev["unit"])
        return self._in(ev, target, ("quantity",))

    def totals(self, rows: list[dict[str, str]]) -> list[dict[str, str]]:
        """Sums by resource and unit (the ledger's, the flows'), each resource in the
        page's unit for it where it converts, added up again."""
        sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for row in rows:
            shown = self._in(row, self._kind(row["kind"], row["unit"]), ("quantity",))
            sums[(shown["kind"], shown["unit"])] += Decimal(shown["quantity"])
        return [{"kind": k, "unit": u, "quantity": fmt(q)} for (k, u), q in sorted(sums.items())]

    def ledger(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**line, "gave": self.totals(line["gave"]),
                 "received": self.totals(line["received"])} for line in lines]

    def flows(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**line, "resources": self.totals(line["resources"])} for line in lines]
