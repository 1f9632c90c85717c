"""An acta in the reader's words: headings, sentences and tables, built once from
node.records.actas and written out twice, as a printable page (acta.html) and as a
PDF (acta_pdf.py), so the two never say different things."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from node.federations.outcomes import Final
from node.records.actas import DecisionActa, FederatedCheck, MeetingActa, Sealed
from node.web.actions import outcome_labels, position_labels, position_words, statute_text

Tr = Callable[[str], str]
When = Callable[[Any], str]


@dataclass
class Section:
    heading: str
    lines: list[str] = field(default_factory=list)
    text: str = ""  # kept as written: an agenda, minutes, a proposal's text
    table: list[list[str]] = field(default_factory=list)  # the first row heads it
    code: str = ""  # a fingerprint, printed whole
    links: list[tuple[str, str]] = field(default_factory=list)  # (words, address)


@dataclass
class Part:
    heading: str
    sections: list[Section]
    new_page: bool = False


@dataclass
class Doc:
    title: str
    body_name: str
    lines: list[str]
    parts: list[Part]
    footer: str


def _methods(_: Tr) -> dict[str, str]:
    return {"online": _("votación en línea"), "assembly": _("asamblea"),
            "mandates": _("votos por mandato")}


def _choices(_: Tr) -> dict[str, str]:
    return {"for": _("A favor"), "against": _("En contra"), "abstain": _("Abstención"),
            "block": _("Bloqueo")}


def _sealed(_: Tr, when: When, sealed: Sealed | None) -> Section:
    s = Section(_("Registro de auditoría"))
    if sealed is None:
        s.lines.append(_("No se encontró el asiento de este registro en la auditoría."))
        return s
    s.lines.append(f"{_('Asiento número')} {sealed.seq} · {when(sealed.at)}"
                   + (f" · {_('por')} {sealed.by}" if sealed.by else
                      f" · {_('por el propio nodo')}"))
    s.lines.append(_("La huella se recalcula y enlaza con el asiento anterior.") if sealed.holds
                   else _("La huella no coincide: este asiento fue alterado."))
    s.code = sealed.hash
    return s


def _counts(_: Tr, a: DecisionActa) -> list[str]:
    rec = a.record
    c, e = rec.get("counts", {}), rec.get("electorate", {})
    line = (f"{_('A favor')} {c.get('for', 0)} · {_('En contra')} {c.get('against', 0)} · "
            f"{_('Abstenciones')} {c.get('abstain', 0)}")
    if c.get("block"):
        line += f" · {_('Bloqueos')} {c['block']}"
    held = rec.get("assembly")
    if held:
        took = (f"{_('Votaron')} {c.get('participants', 0)} {_('de')} {held.get('present', 0)} "
                f"{_('presentes')}")
        if a.statute.quorum_basis.value == "families":
            took += (f" · {_('familias presentes')}: {held.get('families_present', 0)} "
                     f"{_('de')} {e.get('families', 0)}")
    elif a.decision.method == "mandates":
        took = (f"{_('Votaron')} {c.get('participants', 0)} {_('de')} {e.get('members', 0)} "
                f"{_('instancias')}")
    else:
        took = (f"{_('Votaron')} {c.get('participants', 0)} {_('de')} {e.get('members', 0)} "
                f"{_('integrantes')}")
        if a.statute.quorum_basis.value == "families":
            took += (f" · {_('familias')}: {c.get('families', 0)} {_('de')} "
                     f"{e.get('families', 0)}")
    quorum = _("Hubo quórum.") if rec.get("quorum_met") else _("No hubo quórum.")
    return [line, took, quorum]


def _roll(_: Tr, a: DecisionActa) -> Section | None:
    words = _choices(_)
    if a.secret:
        return Section(_("Votos"), [_("Votación secreta: solo se guardaron los totales.")])
    if a.roll is None:
        return None
    if a.decision.method == "mandates":
        rows = [[_("Instancia"), _("Voto"), _("Peso"), _("Vocería")]]
        rows += [[b.name, words.get(b.choice, b.choice), str(b.weight), b.spokesperson]
                 for b in a.roll]
    else:
        rows = [[_("Integrante"), _("Voto"), _("Razón")]]
        rows += [[b.name, words.get(b.choice, b.choice), b.reason] for b in a.roll]
    return Section(_("Quién votó qué"), table=rows)


def _finding_words(_: Tr) -> dict[str, str]:
    return {
        "decision-proof": _("La firma de la federación sobre la decisión no se pudo comprobar."),
        "statute-unreadable": _("El estatuto que declara la decisión no se puede leer."),
        "vote-unreadable": _("Uno de los votos no se puede leer."),
        "mandate-unreadable": _("Uno de los mandatos no se puede leer."),
        "mandate-proof": _("El mandato de {body} no lleva una firma válida de esa instancia."),
        "mandate-elsewhere": _("El mandato de {body} es para otro asunto u otra federación."),
        "vote-proof": _("El voto de {body} no lleva una firma válida de esa instancia."),
        "vote-not-member": _("{body} votó sin ser instancia miembro."),
        "vote-other-version": _("El voto de {body} es para la versión {version}, no para la "
                                "decidida ({decided})."),
        "vote-no-mandate": _("El voto de {body} no responde a ningún mandato válido de la "
                             "decisión."),
        "vote-mandate-other-body": _("El voto de {body} usa el mandato de otra instancia."),
        "vote-not-spokesperson": _("El voto de {body} lo emitió quien no tiene su vocería."),
        "vote-mandate-version": _("El mandato de {body} era para la versión {version}."),
        "vote-outside-mandate": _("El voto de {body} ({choice}) se sale de su mandato "
                                  "({position})."),
        "vote-twice": _("{body} votó dos veces; cuenta un solo voto."),
        "count-differs": _("La decisión declara {stated} votos «{choice}»; los votos "
                           "firmados dan {counted}."),
        "outcome-differs": _("La decisión declara «{stated}»; el estatuto y los votos "
                             "firmados dan «{counted}»."),
    }


def finding_lines(_: Tr, check: FederatedCheck, names: dict[str, str]) -> list[str]:
    """What the check found, in the reader's language, bodies by name."""
    words, choices = _finding_words(_), _choices(_)
    outcomes = outcome_labels(_)
    lines = []
    for f in check.findings:
        values = {**f.params, "body": names.get(f.body) or f.body or _("una instancia")}
        if "choice" in values:
            values["choice"] = choices.get(values["choice"], values["choice"])
        if f.code == "outcome-differs":
            values = {k: outcomes.get(v, v) for k, v in values.items()}
        if "position" in values:
            values["position"] = position_labels(_).get(values["position"],
                                                       values["position"])
        template = words.get(f.code)
        lines.append(template.format(**values) if template else f.text)
    return lines


def federated_section(_: Tr, name: str, check: FederatedCheck | None,
                      names: dict[str, str] | None = None, final: Final | None = None,
                      base: str = "", here: int | None = None) -> Section:
    """`final`: which version the federation decided and our row holding its text, linked
    (at `base`) unless it is this one (`here`)."""
    s = Section(_("Decisión de la federación"))
    if final is not None and final.version and final.row and final.row != here:
        s.links.append((f"{_('Texto de la versión')} {final.version}",
                        f"{base}/p/{final.row}"))
    on = f", {_('sobre la versión')} {final.version}" if final and final.version else ""
    outcomes = outcome_labels(_)
    if check is None:
        if final is not None:
            s.lines.append(f"{name}: {outcomes.get(final.outcome, final.outcome)}{on}")
        s.lines.append(_("No se pudo comprobar la decisión de la federación ahora."))
        return s
    s.lines.append(f"{name}: {outcomes.get(check.stated_outcome, check.stated_outcome)}{on}")
    s.lines.append(f"{_('Mandatos comprobados')}: {check.mandates_valid} {_('de')} "
                   f"{check.mandates} · {_('votos contados')}: {check.votes_counted} "
                   f"{_('de')} {check.votes}")
    c = check.counted
    s.lines.append(f"{_('Recuento rehecho')}: {_('A favor')} {c.get('for', 0)} · "
                   f"{_('En contra')} {c.get('against', 0)} · {_('Abstenciones')} "
                   f"{c.get('abstain', 0)} · {_('peso total')} {c.get('electorate', 0)}")
    if check.holds:
        s.lines.append(_("La decisión se sostiene: cada mandato y cada voto lleva la firma de "
                         "su instancia, y el recuento da el mismo resultado."))
    else:
        s.lines.append(_("La comprobación encontró problemas:"))
        s.lines += finding_lines(_, check, names or {})
    return s


def decision_sections(_: Tr, when: When, day: When, a: DecisionActa,
                      federated: Section | None) -> list[Section]:
    outcome = outcome_labels(_).get(a.decision.outcome, a.decision.outcome)
    heading, text = _("Decisión"), _("Texto decidido")
    if a.position:
        # What this body decided is its position at the federation; the federation's own
        # decision (and the version it was on) follows.
        outcome = position_words(_).get(a.decision.outcome, outcome)
        heading = _("Posición de %(body)s") % {"body": a.body.name}
        text = f"{_('Texto sobre el que se fijó la posición')} ({_('versión')} " \
            f"{a.decision.version})"
    method = _methods(_).get(a.decision.method, a.decision.method)
    out = [Section(heading, [
        f"{outcome} · {method} · {day(a.decision.decided_at)}",
        f"{_('versión')} {a.decision.version} · {statute_text(_, a.statute)}",
        *_counts(_, a)])]
    roll = _roll(_, a)
    if roll is not None:
        out.append(roll)
    out.append(Section(text, text=a.text))
    if a.decision.execution != "decided":
        execution = {"in_progress": _("en curso"), "carried_out": _("ejecutada")}
        out.append(Section(_("Ejecución"), [
            execution.get(a.decision.execution, a.decision.execution)
            + (f" · {a.decision.execution_notes}" if a.decision.execution_notes else "")]))
    out.append(_sealed(_, when, a.sealed))
    if federated is not None:
        out.append(federated)
    return out


def decision_doc(_: Tr, when: When, day: When, a: DecisionActa, federated: Section | None,
                 node_name: str, printed: str) -> Doc:
    lines = []
    if a.meeting is not None:
        lines.append(f"{_('Asamblea del')} {when(a.meeting.held_at)}"
                     + (f" · {a.meeting.place}" if a.meeting.place else ""))
    return Doc(title=f"{_('Acta de la decisión')}: {a.title}", body_name=a.body.name,
               lines=lines, parts=[Part("", decision_sections(_, when, day, a, federated))],
               footer=f"{node_name} · {_('impresa el')} {printed}")


def meeting_doc(_: Tr, when: When, day: When, m: MeetingActa,
                federated: dict[int, Section], node_name: str, printed: str) -> Doc:
    mt = m.meeting
    present = _("1 persona presente") if mt.attendance == 1 else \
        f"{mt.attendance} {_('personas presentes')}"
    if mt.families:
        present += " · " + (_("1 familia") if mt.families == 1 else
                            f"{mt.families} {_('familias')}")
    lines = [when(mt.held_at) + (f" · {mt.place}" if mt.place else ""), present]
    if m.recorded_by:
        lines.append(f"{_('Registrada por')} {m.recorded_by}")
    first: list[Section] = []
    if mt.agenda:
        first.append(Section(_("Orden del día"), text=mt.agenda))
    if mt.minutes:
        first.append(Section(_("Acta"), text=mt.minutes))
    said, held = outcome_labels(_), position_words(_)
    first.append(Section(_("Decisiones"), [
        f"{a.title}: " + (f"{_('posición')}: {held.get(a.decision.outcome, '').lower()}"
                          if a.position else said.get(a.decision.outcome, a.decision.outcome))
        for a in m.decisions] or [_("Esta asamblea no tomó decisiones.")]))
    first.append(_sealed(_, when, m.sealed))
    parts = [Part("", first)]
    parts += [Part(a.title, decision_sections(_, when, day, a,
                                              federated.get(a.decision.id or 0)),
                   new_page=True) for a in m.decisions]
    return Doc(title=f"{_('Acta de la asamblea')} · {day(mt.held_at)}", body_name=m.body.name,
               lines=lines, parts=parts,
               footer=f"{node_name} · {_('impresa el')} {printed}")
