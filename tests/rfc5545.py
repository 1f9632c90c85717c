"""The checks of RFC 5545 a phone calendar relies on, written from the RFC rather than
from the library that makes our feed, so that the two can disagree."""

from __future__ import annotations

import re

VEVENT_STATUS = {"TENTATIVE", "CONFIRMED", "CANCELLED"}
UTC_STAMP = re.compile(r"^\d{8}T\d{6}Z$")
LOCAL_TIME = re.compile(r"^\d{8}T\d{6}$")
# A component's name and its properties: name -> [(parameters, value)].
Props = dict[str, list[tuple[str, str]]]


def _physical(raw: bytes) -> list[str]:
    problems = []
    if not raw.endswith(b"\r\n") or re.search(rb"(?<!\r)\n", raw):
        problems.append("lines must end in CRLF (§3.1)")
    problems += [f"line over 75 octets: {ln[:30]!r}"
                 for ln in raw.split(b"\r\n")[:-1] if len(ln) > 75]
    return problems


def _components(raw: bytes) -> tuple[list[tuple[str, Props]], list[str]]:
    """Unfolded (§3.1: CRLF and one space or tab continue a line) and nested."""
    text = re.sub(r"\r\n[ \t]", "", raw.decode("utf-8"))
    stack: list[tuple[str, Props]] = []
    comps: list[tuple[str, Props]] = []
    problems = []
    for line in text.split("\r\n")[:-1]:
        head, _, value = line.partition(":")
        name, *params = head.split(";")
        name = name.upper()
        if name == "BEGIN":
            stack.append((value, {}))
            comps.append(stack[-1])
        elif name == "END":
            if not stack or stack.pop()[0] != value:
                problems.append(f"END:{value} does not close its BEGIN")
        elif not stack:
            problems.append(f"{name} outside any component")
        else:
            stack[-1][1].setdefault(name, []).append((";".join(params), value))
    if stack:
        problems.append(f"unclosed {[k for k, _ in stack]}")
    return comps, problems


def _time_problems(prop: str, params: str, value: str, zones: set[str]) -> list[str]:
    tzid = re.search(r"TZID=([^;:]+)", params)
    if tzid:
        if tzid.group(1) not in zones or not LOCAL_TIME.match(value):
            return [f"{prop} with TZID needs its VTIMEZONE and a local time (§3.2.19)"]
        return []
    return [] if UTC_STAMP.match(value) else [f"{prop} is neither UTC nor zoned: {value}"]


def _event_problems(props: Props, zones: set[str]) -> list[str]:
    problems = [f"VEVENT needs exactly one {once} (§3.6.1)"
                for once in ("UID", "DTSTAMP", "DTSTART") if len(props.get(once, [])) != 1]
    problems += [f"DTSTAMP must be UTC: {v} (§3.8.7.2)"
                 for _, v in props.get("DTSTAMP", []) if not UTC_STAMP.match(v)]
    if props.get("DTEND") and props.get("DURATION"):
        problems.append("DTEND and DURATION together (§3.6.1)")
    for prop in ("DTSTART", "DTEND"):
        for params, value in props.get(prop, []):
            problems += _time_problems(prop, params, value, zones)
    problems += [f"STATUS {v} is not a VEVENT status (§3.8.1.11)"
                 for _, v in props.get("STATUS", []) if v not in VEVENT_STATUS]
    problems += ["SEQUENCE is a non-negative integer (§3.8.7.4)"
                 for _, v in props.get("SEQUENCE", []) if not v.isdigit()]
    return problems


def problems(raw: bytes) -> list[str]:
    """What in `raw` RFC 5545 forbids; empty when none of these checks fails."""
    found = _physical(raw)
    comps, nesting = _components(raw)
    found += nesting
    cals = [p for k, p in comps if k == "VCALENDAR"]
    if len(cals) != 1:
        return [*found, "exactly one VCALENDAR"]
    cal = cals[0]
    if len(cal.get("PRODID", [])) != 1 or [v for _, v in cal.get("VERSION", [])] != ["2.0"]:
        found.append("VCALENDAR needs one PRODID and VERSION:2.0 (§3.6)")
    zones = {v for k, p in comps if k == "VTIMEZONE" for _, v in p.get("TZID", [])}
    for kind, props in comps:
        if kind == "VEVENT":
            found += _event_problems(props, zones)
    return found
