"""Times as the commune writes them: shown in the node's zone with a twelve-hour clock,
typed the same way (or as ISO), stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from node.config import ConfigError, load_settings
from node.errors import Problem
from node.web import timefmt

CARACAS = "America/Caracas"  # UTC-4, no summer time


def test_a_moment_is_shown_in_the_node_zone_day_first() -> None:
    t = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)
    assert timefmt.when(t, CARACAS) == "28/11/2026 6:30 p. m."
    assert timefmt.when(t, CARACAS, "en") == "28/11/2026 6:30 pm"
    assert timefmt.when(datetime(2026, 11, 29, 4, 5, tzinfo=UTC), CARACAS) == \
        "29/11/2026 12:05 a. m."
    assert timefmt.when("2026-11-29T16:00:00+00:00", CARACAS) == "29/11/2026 12:00 p. m."
    # SQLite hands back naive datetimes: they are UTC.
    assert timefmt.when(datetime(2026, 11, 28, 22, 30), CARACAS) == "28/11/2026 6:30 p. m."
    assert timefmt.day(t, CARACAS) == "28/11/2026"
    assert timefmt.when(None, CARACAS) == ""


@pytest.mark.parametrize("typed", [
    "28/11/2026 6:30 p. m.", "28/11/2026 6:30 pm", "28/11/2026 6:30 P.M.",
    "28/11/2026 18:30", "28-11-2026 18.30", "2026-11-28T18:30", "2026-11-28T22:30:00+00:00",
])
def test_what_people_type_is_read_in_the_node_zone(typed: str) -> None:
    assert timefmt.parse(typed, CARACAS) == datetime(2026, 11, 28, 22, 30, tzinfo=UTC)


def test_midnight_noon_and_a_day_alone() -> None:
    assert timefmt.parse("28/11/2026 12:00 a. m.", CARACAS).hour == 4
    assert timefmt.parse("28/11/2026 12:00 p. m.", CARACAS).hour == 16
    assert timefmt.parse("28/11/2026", CARACAS) == datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("typed", ["ayer", "31/02/2026 6:00 p. m.", "28/11/2026 13:00 p. m.",
                                   "28/11/2026 25:00", ""])
def test_a_wrong_moment_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(Problem) as exc:
        timefmt.parse(typed, CARACAS, field="held_at")
    assert exc.value.status == 422 and exc.value.extra["field"] == "held_at"


def test_what_a_form_field_shows_parses_back() -> None:
    t = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)
    assert timefmt.parse(timefmt.field_value(t, CARACAS), CARACAS) == t


def test_the_zone_is_a_setting_checked_at_start(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMUNA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COMUNA_URL", "http://node.test")
    assert load_settings().timezone == CARACAS
    monkeypatch.setenv("COMUNA_TIMEZONE", "Europe/Madrid")
    assert load_settings().timezone == "Europe/Madrid"
    monkeypatch.setenv("COMUNA_TIMEZONE", "Marte/Olympus")
    with pytest.raises((ConfigError, ValueError)):
        load_settings()
