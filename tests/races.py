"""Two units of work at once, the second started while the first holds its transaction
open: what a race between two inbox items, or an item and a background pass, does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def second_while_first_holds(first: Callable[[Callable[[], None]], None],
                             second: Callable[[], None]) -> dict[str, str]:
    """Run `first(hold)`, which calls `hold()` after its change and before its commit;
    meanwhile run `second()`; then let the first commit. Returns "done" or the error
    code (or repr) of each, under "first" and "second"."""
    holding, may_commit = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def hold() -> None:
        holding.set()
        assert may_commit.wait(30), "the test never let the first unit commit"

    def run(name: str, work: Callable[[], None]) -> None:
        try:
            work()
            outcomes[name] = "done"
        except Exception as exc:  # noqa: BLE001 (the outcome is what the tests check)
            outcomes[name] = str(getattr(exc, "code", "") or repr(exc))
            holding.set()

    a = threading.Thread(target=run, args=("first", lambda: first(hold)))
    b = threading.Thread(target=run, args=("second", second))
    a.start()
    assert holding.wait(30), "the first unit never got to its commit"
    b.start()
    # Nothing to wait on inside the second transaction: give it the time to read (under
    # a row lock it is blocked there; without one it has read the row as it was).
    time.sleep(0.3)
    may_commit.set()
    a.join(60)
    b.join(60)
    return outcomes
