"""Errors that carry their HTTP meaning, raised by any layer and answered by the HTTP
layer as RFC 9457 problem details with a stable machine-readable code.

The detail is English, for the JSON API; people read the sentence
node/errors/text gives for the code and detail (tests/test_problem_text.py
fails on a refusal without one). `field="title"` names the form field a refusal is
about, so the page shows it next to that field.

Every code is registered once, with its status, in node/errors/codes.py. A Problem
whose code is not registered, or whose status is not the code's, is a bug: under
pytest it raises `UnregisteredCode` where it is made, so no test passes through it
(tests/test_error_registry.py also finds every code in the source); elsewhere it is
logged once per code and answered as made, since a person asking should not get a
500 for a typo in a code."""

from __future__ import annotations

import logging
import sys
from typing import Any

from node.errors.codes import mismatch

log = logging.getLogger(__name__)
_warned: set[tuple[int, str]] = set()


class UnregisteredCode(AssertionError):
    """A Problem made with a code node/errors/codes.py does not register (or with
    another status): raised only where codes are checked strictly."""


# True or False to decide; None: strict when pytest is loaded (settings are read only
# in node/config.py, so a node in another process would be made strict by its wiring).
STRICT: bool | None = None


def _strict() -> bool:
    return "pytest" in sys.modules if STRICT is None else STRICT


def check_code(status: int, code: str) -> None:
    wrong = mismatch(status, code)
    if wrong is None:
        return
    if _strict():
        raise UnregisteredCode(wrong)
    if (status, code) not in _warned:
        _warned.add((status, code))
        log.error("%s", wrong)


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        check_code(status, code)
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra


def not_found(what: str, **extra: Any) -> Problem:
    return Problem(404, "not-found", f"no such {what}", **extra)


def forbidden(detail: str, **extra: Any) -> Problem:
    return Problem(403, "forbidden", detail, **extra)


def conflict(code: str, detail: str, **extra: Any) -> Problem:
    return Problem(409, code, detail, **extra)


def invalid(code: str, detail: str, **extra: Any) -> Problem:
    return Problem(422, code, detail, **extra)
