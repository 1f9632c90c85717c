"""Times written into documents that leave the node end in Z, so they must be UTC
whatever offset the client sent (a commune's -04:00 was once written as if it were Z,
four hours wrong, into a delivery's ValueFlows event and a signed mandate's expiry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from node.economy import wire
from node.federations import mandates

CARACAS = timezone(timedelta(hours=-4))


def test_an_economic_event_time_with_an_offset_is_written_in_utc() -> None:
    assert wire.stamp(datetime(2026, 11, 29, 9, 30, tzinfo=CARACAS)) == "2026-11-29T13:30:00Z"
    assert wire.stamp(datetime(2026, 11, 29, 9, 30, tzinfo=UTC)) == "2026-11-29T09:30:00Z"
    # Rows read back from SQLite are naive and mean UTC.
    assert wire.stamp(datetime(2026, 11, 29, 9, 30)) == "2026-11-29T09:30:00Z"
    assert wire.stamp(None) is None


def test_a_mandate_expiry_with_an_offset_is_signed_in_utc() -> None:
    assert mandates._stamp(datetime(2026, 12, 1, 20, 0, tzinfo=CARACAS)) == \
        "2026-12-02T00:00:00Z"
    assert mandates._stamp(datetime(2026, 12, 1, 20, 0)) == "2026-12-01T20:00:00Z"
