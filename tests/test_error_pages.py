"""A browser gets a page in its reader's language for a missing page and for a server
error (with a reference the log also has); the JSON API keeps problem+json, with the
detail in Spanish when the client asks for it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from node.api.problems import detail_language
from node.app import create_app, wants_page
from node.web.errorpages import install

HTML = {"Accept": "text/html"}
SERVER_ES = ("Algo falló en el servidor; intente de nuevo en un momento. Si sigue, avise a "
             "la coordinación del nodo.")


def _inner(app: Any) -> Any:
    while not hasattr(app, "state"):
        app = app.app
    return app


@pytest.fixture
def web(node: Any) -> Iterator[TestClient]:
    app = create_app(node, background=False)
    inner = _inner(app)
    install(inner, wants_page)  # what node/app.py registers

    def boom() -> None:
        raise RuntimeError("a bug")

    inner.add_api_route("/_test/boom", boom)
    inner.add_api_route("/api/v1/_test/boom", boom)
    with TestClient(app, base_url="http://testserver",
                    raise_server_exceptions=False) as c:
        yield c


def test_a_server_error_is_a_spanish_page_with_a_reference_in_the_log(
        web: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="comuna.errors"):
        r = web.get("/_test/boom", headers=HTML)
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert SERVER_ES in r.text and r.headers["content-language"] == "es"
    ref = re.search(r"referencia: ([0-9a-f]{8})", r.text)
    assert ref, r.text
    logged = [rec for rec in caplog.records if ref.group(1) in rec.getMessage()]
    assert logged and logged[0].exc_info and "a bug" in str(logged[0].exc_info[1])


def test_a_server_error_reads_in_english_for_an_english_reader(web: TestClient) -> None:
    web.cookies.set("lang", "en")
    r = web.get("/_test/boom", headers=HTML)
    assert r.status_code == 500 and "Something failed on the server" in r.text
    assert "reference: " in r.text and "Algo falló" not in r.text


def test_the_api_keeps_problem_json_for_a_server_error(web: TestClient) -> None:
    r = web.get("/api/v1/_test/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "server-error" and re.fullmatch(r"[0-9a-f]{8}", body["reference"])
    r = web.get("/api/v1/_test/boom", headers={"Accept-Language": "es"})
    assert r.json()["detail"].startswith("Algo falló en el servidor")


def test_a_missing_page_is_a_spanish_page_for_browsers_and_json_for_programs(
        web: TestClient) -> None:
    r = web.get("/no/such/page/here", headers=HTML)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Página no encontrada" in r.text and "revise la dirección" in r.text
    r = web.get("/no/such/page/here")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = web.get("/api/v1/no-such-thing", headers=HTML)  # the API never answers a page
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_a_cut_or_mistyped_link_is_a_missing_page_not_the_apis_field_errors(
        web: TestClient) -> None:
    for path in ("/p/1.", "/p/1)", "/p/abc"):
        r = web.get(path, headers=HTML)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), \
            (path, r.status_code, r.text[:200])
        assert "Página no encontrada" in r.text and "Unprocessable" not in r.text
    r = web.get("/api/v1/proposals/abc", headers=HTML)  # the API keeps its problem+json
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


def test_the_api_detail_is_english_unless_spanish_is_asked_for(web: TestClient) -> None:
    wrong = {"username": "nobody", "password": "not-the-password", "label": "t"}
    r = web.post("/api/v1/tokens", json=wrong)
    assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"
    # English is a language variant too: a shared cache must tell the two apart.
    assert r.headers["content-language"] == "en" and r.headers["vary"] == "Accept-Language"
    r = web.post("/api/v1/tokens", json=wrong, headers={"Accept-Language": "es-VE,es;q=0.9"})
    assert r.json()["code"] == "bad-credentials"
    assert r.json()["detail"] == ("El usuario o la contraseña no coinciden; revíselos e "
                                  "intente de nuevo.")
    assert r.headers["content-language"] == "es"
    r = web.post("/api/v1/tokens", json=wrong,
                 headers={"Accept-Language": "en-US,en;q=0.9,es;q=0.8"})
    assert r.json()["detail"] == "wrong username or password"


class _Req:
    def __init__(self, value: str) -> None:
        self.headers = {"accept-language": value}


@pytest.mark.parametrize(("header", "lang"), [
    ("", None), ("es", "es"), ("es-VE", "es"), ("en", None), ("fr, es;q=0.5", "es"),
    ("es;q=0.2, en;q=0.8", None), ("en;q=0.1, es", "es"), ("es;q=0", None),
    ("*", None), ("es;q=bad", None)])
def test_accept_language_is_read_by_preference(header: str, lang: str | None) -> None:
    assert detail_language(_Req(header)) == lang  # type: ignore[arg-type]
