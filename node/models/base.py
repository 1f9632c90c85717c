from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they are stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
