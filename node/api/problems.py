"""RFC 9457 problem details, used by every JSON endpoint of the node."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

from node.errors import Problem

__all__ = ["Problem", "from_problem", "problem_response"]

PROBLEM_TYPE_BASE = "https://w3id.org/comuna/problems#"


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
