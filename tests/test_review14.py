"""Review 14: attacks on actas, exports, events, assemblies in the calendar, pictures
and backups."""

from __future__ import annotations

import base64
import json

from fastapi.testclient import TestClient

from tests.test_api import PASSWORD, Headers, _cli_invite, _join, people  # noqa: F401


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_events_cursor_out_of_range_is_400(client: TestClient,
                                           people: dict[str, Headers]) -> None:  # noqa: F811
    for raw in ('{"after": 1e400}', '{"after": 100000000000000000000000000}',
                '{"after": -100000000000000000000000000}'):
        cur = base64.urlsafe_b64encode(raw.encode()).decode()
        r = client.get("/api/v1/events", headers=people["ana"], params={"cursor": cur})
        assert r.status_code == 400, (raw, r.status_code, r.text)
        assert r.json()["type"].endswith("bad-cursor") or "bad-cursor" in r.text
