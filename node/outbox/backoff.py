"""When to try again. About two days in all, like the large fediverse servers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

BASE_SECONDS = 30.0
CAP_SECONDS = 8 * 3600.0
# A first failure that is not the peer's answer (a dropped connection, a key that could
# not be fetched) is usually gone a moment later: try again soon, then back off.
QUICK_SECONDS = 2.0


def backoff_delay(attempts: int, rng: random.Random | None = None,
                  base_seconds: float = BASE_SECONDS) -> float:
    """Delay before attempt `attempts + 1`: 30 s doubling to 8 h, plus up to 25 % jitter.

    The jitter only lengthens, so 16 attempts span at least 2.02 days (about 2.3 on
    average): a peer that is back within two days gets everything.
    """
    base = min(base_seconds * (2 ** max(attempts - 1, 0)), CAP_SECONDS)
    return base * (rng or random).uniform(1.0, 1.25)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse Retry-After (seconds or HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    now = now or datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


def next_attempt(now: datetime, attempts: int, retry_after: float | None,
                 base_seconds: float = BASE_SECONDS, transient: bool = False) -> datetime:
    """`transient`: the failure was not an answer from the peer (see QUICK_SECONDS)."""
    if transient and attempts == 1 and retry_after is None:
        delay = QUICK_SECONDS * random.uniform(0.8, 1.2)
    else:
        delay = backoff_delay(attempts, base_seconds=base_seconds)
    if retry_after is not None:
        # Honour the peer's wish, but never wait longer than the cap for one step.
        delay = max(delay, min(retry_after, CAP_SECONDS))
    return now + timedelta(seconds=delay)


def is_permanent(status: int) -> bool:
    """4xx other than 401/408/429 will not get better by retrying."""
    return 400 <= status < 500 and status not in (401, 408, 429)
