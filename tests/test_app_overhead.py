"""Work FastAPI would do at every request that a node has no use for."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from node.app import create_app
from node.config import Settings
from tests.conftest import NODE_URL


def test_no_telemetry_lookup_at_each_request(node: Settings,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """FastAPI asks OpenTelemetry for its global providers at every request unless told
    not to (environment lookups that raise and catch, and a wrapper around each
    endpoint); a node exports no telemetry."""
    from opentelemetry import _logs, metrics, trace

    def asked() -> None:
        raise AssertionError("a request asked for a telemetry provider")

    with TestClient(create_app(node, background=False), base_url=NODE_URL) as client:
        for module, name in ((trace, "get_tracer_provider"), (metrics, "get_meter_provider"),
                             (_logs, "get_logger_provider")):
            monkeypatch.setattr(module, name, asked)
        assert client.get("/healthz").status_code == 200
        assert client.get("/login").status_code == 200
        assert client.get("/api/v1/me").status_code == 401
