from __future__ import annotations

from datetime import UTC, datetime

# Ids are 32-bit integers in the database: a larger number (or one below 1) names
# nothing, and handing it to the database would fail as a 500 (SQLite: OverflowError).
MAX_ID = 2**31 - 1


def id_in_range(value: int) -> bool:
    return 0 < value <= MAX_ID


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they are stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
