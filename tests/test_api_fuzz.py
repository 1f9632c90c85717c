"""The JSON API fuzzed from its own OpenAPI document (schemathesis) against a real node
process: whatever the input, never a 5xx, errors are problem+json, and every answer
matches the schema the document gives for its status."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.core.result import Err

from tests.procnode import NodeProcess

PASSWORD = "contraseña-larga"
CHECKS = [checks.not_a_server_error, checks.response_schema_conformance,
          checks.content_type_conformance]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[NodeProcess, dict[str, str]]]:
    from tests.conftest import Databases

    dbs = Databases(tmp_path_factory.mktemp("fuzz"))
    node = NodeProcess(tmp_path_factory.mktemp("fuzznode"), "maizal", dbs.new("fuzz"))
    node.start()
    token = node.invitation()
    httpx.post(f"{node.url}/api/v1/invitations/{token}/accept",
               json={"username": "rosa", "password": PASSWORD}).raise_for_status()
    r = httpx.post(f"{node.url}/api/v1/tokens", json={"username": "rosa", "password": PASSWORD})
    r.raise_for_status()
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    httpx.post(f"{node.url}/api/v1/bodies/maizal/proposals", headers=headers,
               json={"title": "Base", "text": "Para que haya algo que leer."}).raise_for_status()
    yield node, headers
    node.stop()
    dbs.drop_all()


def test_api_never_answers_5xx(served: tuple[NodeProcess, dict[str, str]]) -> None:
    node, headers = served
    schema = schemathesis.openapi.from_url(f"{node.url}/api/openapi.json")
    tried: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        tried.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(max_examples=int(os.environ.get("COMUNA_FUZZ_EXAMPLES", "25")), deadline=None,
                  database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case[Any]) -> None:
            # The event stream answers for as long as it is read: fuzzed for its
            # refusals (without a token), never left open.
            stream = case.operation.path.endswith("/events/stream")
            response = case.call(headers={} if stream else headers)
            assert response.status_code < 500, (case.method, case.formatted_path,
                                                response.text)
            case.validate_response(response, checks=CHECKS)
            if response.status_code >= 400:
                ctype = {k.lower(): v for k, v in response.headers.items()}["content-type"]
                assert ctype[0].startswith("application/problem+json"), response.text
                body = response.json()
                assert body["status"] == response.status_code and body["code"]

        run()
    assert len(tried) > 20, tried
