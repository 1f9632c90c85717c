"""Errors that carry their HTTP meaning, raised by any layer and answered by the HTTP
layer as RFC 9457 problem details with a stable machine-readable code."""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", f"no such {what}")


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", detail)


def conflict(code: str, detail: str) -> Problem:
    return Problem(409, code, detail)


def invalid(code: str, detail: str) -> Problem:
    return Problem(422, code, detail)
