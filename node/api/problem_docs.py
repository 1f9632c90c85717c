"""How problem+json answers are described in the OpenAPI document.

Apart from the JSON API's response models (node/api/v1/outputs.py) so that the
ActivityPub routes, which are built at start, do not load those models with them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ProblemOut(BaseModel):
    """RFC 9457 problem details; `code` is stable, `detail` is for people."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    code: str


_PROBLEM_SCHEMA = ProblemOut.model_json_schema()
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text,
             "content": {"application/problem+json": {"schema": _PROBLEM_SCHEMA}}}
    for status, text in ((400, "malformed request"), (401, "no or bad credentials"),
                         (403, "not allowed for this member"), (404, "not found"),
                         (409, "conflicts with the current state"),
                         (422, "a value is not acceptable"))
}
