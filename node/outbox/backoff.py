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
# A peer's Retry-After shorter than our schedule ("busy for a moment", "your key could
# not be fetched just now") is taken at its word for the first attempts: waiting 30 s
# on a peer that asked for 5 is the whole tail of a federation's delivery times. From
# then on our schedule is the least wait, so a peer that always says "in a second"
# cannot spend a row's attempts in a minute.
SHORT_RETRY_AFTER_ATTEMPTS = 3
MIN_RETRY_SECONDS = 1.0


def backoff_delay(attempts: int, rng: random.Random | None = None,
                  base_seconds: float = BASE_SECONDS) -> float:
    """Delay before attempt `attempts + 1`: 30 s doubling to 8 h, plus up to 25 % jitter.

    The jitter only lengthens, so 16 attempts span at least 2.02 days (about 2.3 on
    average): a peer that is back within two days gets everything.
    """
    base: float = min(base_seconds * (2.0 ** max(attempts - 1, 0)), CAP_SECONDS)
    return base * float((rng or random).uniform(1.0, 1.25))


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
    """When to try attempt `attempts + 1`. `transient`: the failure was not an answer
    from the peer (see QUICK_SECONDS); `retry_after`: the peer's Retry-After in seconds
    (see SHORT_RETRY_AFTER_ATTEMPTS)."""
    if transient and attempts == 1 and retry_after is None:
        delay = QUICK_SECONDS * random.uniform(0.8, 1.2)
    else:
        delay = backoff_delay(attempts, base_seconds=base_seconds)
    if retry_after is not None:
        # Honour the peer's wish, but never wait longer than the cap for one step.
        wish = min(max(retry_after, MIN_RETRY_SECONDS), CAP_SECONDS)
        if attempts <= SHORT_RETRY_AFTER_ATTEMPTS:
            # Only lengthened by the jitter: senders told the same second spread out.
            delay = min(wish * random.uniform(1.0, 1.1), CAP_SECONDS)
        else:
            delay = max(delay, wish)
    return now + timedelta(seconds=delay)


def is_permanent(status: int) -> bool:
    """4xx other than 401/408/429 will not get better by retrying."""
    return 400 <= status < 500 and status not in (401, 408, 429)
