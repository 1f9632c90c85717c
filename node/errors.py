"""Errors that carry their HTTP meaning, raised by any layer and answered by the HTTP
layer as RFC 9457 problem details with a stable machine-readable code.

The detail is English, for the JSON API; people read the sentence
node/web/problem_text gives for the code and detail (tests/test_problem_text.py
fails on a refusal without one). `field="title"` names the form field a refusal is
about, so the page shows it next to that field."""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
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
