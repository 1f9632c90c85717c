"""RFC 9457 problem details, used by every JSON endpoint of the node."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

PROBLEM_TYPE_BASE = "https://w3id.org/comuna/problems#"


class Problem(Exception):
    """An error that carries its HTTP meaning and a stable machine-readable code."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra


def problem_response(status: int, code: str, detail: str, **extra: Any) -> Response:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return Response(json.dumps(body), status_code=status,
                    media_type="application/problem+json")


def from_problem(p: Problem) -> Response:
    return problem_response(p.status, p.code, p.detail, **p.extra)
