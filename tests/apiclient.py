"""Members on the JSON API in-process (cli_invite, join, `people`), and its OpenAPI `contract`."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from node.cli.main import main as cli
from node.config import Settings
from tests.conftest import hold_to_openapi

PASSWORD = "una-contraseña-larga"
# A member's bearer token, as request headers.
Headers = dict[str, str]


def cli_invite(node: Settings, capsys: pytest.CaptureFixture[str], role: str = "facilitator",
               body: str | None = None) -> str:
    args = ["invite", "--data-dir", str(node.data_dir), "--role", role]
    if body:
        args += ["--body", body]
    assert cli(args) == 0
    found = re.search(r"invitation token: (\S+)", capsys.readouterr().out)
    assert found, "the CLI printed no invitation token"
    return found.group(1)


def join(client: TestClient, token: str, username: str, family: str = "") -> Headers:
    r = client.post(f"/api/v1/invitations/{token}/accept",
                    json={"username": username, "password": PASSWORD, "display_name": username,
                          "family": family})
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


# Autouse only in the modules that import it (test_api, test_economy_local).
@pytest.fixture(autouse=True)
def contract(client: TestClient) -> Iterator[None]:
    """Every answer in these tests must match the OpenAPI document, successes included
    (which random fuzzing rarely reaches with full records)."""
    checked = hold_to_openapi(client)
    yield
    assert all(" 5" not in c for c in checked)


@pytest.fixture
def people(node: Settings, client: TestClient, capsys: pytest.CaptureFixture[str]
           ) -> dict[str, Headers]:
    facil = join(client, cli_invite(node, capsys), "facil", "f1")
    out = {"facil": facil}
    for name, fam in (("ana", "f1"), ("beto", "f2"), ("caro", "f3")):
        r = client.post("/api/v1/bodies/maizal/invitations", headers=facil, json={})
        assert r.status_code == 201
        out[name] = join(client, r.json()["token"], name, fam)
    r = client.post("/api/v1/bodies/maizal/bodies", headers=facil,
                    json={"handle": "consejo_agua", "name": "Consejo del agua",
                          "kind": "sectoral_council"})
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/bodies/consejo_agua/invitations", headers=facil, json={})
    out["otro"] = join(client, r.json()["token"], "otro")
    return out
