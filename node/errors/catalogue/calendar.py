"""Refusals about assemblies called ahead (node/governance/assemblies.py)."""

from __future__ import annotations

from node.errors.catalogue.entry import Entry as E

ENTRIES = [
    E("not-found", "no such assembly",
      "Esa asamblea no existe en esta instancia.",
      "That assembly does not exist in this body."),
    E("missing-place", "say where the assembly meets",
      "Escriba dónde se reúne la asamblea (por ejemplo, «Casa comunal»).",
      "Write where the assembly meets (for example, the community hall)."),
    E("past-assembly", "an assembly is called for a time still to come",
      "Esa fecha y hora ya pasaron; convoque la asamblea para más adelante.",
      "That date and time have passed; call the assembly for later."),
    E("far-assembly", "an assembly is called at most three years ahead",
      "Revise el año: una asamblea se convoca para los próximos tres años.",
      "Check the year: an assembly is called for the next three years."),
    E("bad-assembly-end", "the end comes after the start, within a day",
      "La hora de cierre va después de la de inicio, el mismo día o la noche siguiente.",
      "The closing time comes after the start, the same day or that night."),
    E("bad-agenda", "the agenda names open proposals of this body",
      "En el orden del día van propuestas de esta instancia que estén en deliberación "
      "o en votación.",
      "The agenda takes proposals of this body that are in deliberation or being "
      "voted on."),
    E("assembly-not-met", "this assembly has not met yet",
      "Esa asamblea todavía no se ha reunido; regístrela después de su fecha.",
      "That assembly has not met yet; record it after its date."),
]
