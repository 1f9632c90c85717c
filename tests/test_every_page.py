"""Every page, for a visitor, an integrante and a coordinator, in Spanish and in English:
nothing on it may be a URL, a handle where a name is known, a raw state or unit, a time
in UTC or ISO, English on the Spanish page or Spanish left on the English one. The
routes are read from the app, so a new page joins the tour (and must get a value for
its path here)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from node.config import Settings
from tests.conftest import ctx_of
from tests.helpers import refused
from tests.pageforms import csrf, login
from tests.pagetour import faults, fill, inner_app, page_routes, post_forms
from tests.tourcommune import seed


def tour(client: Any, ids: dict[str, str], who: str) -> list[str]:
    problems = []
    paths = page_routes(inner_app(client))
    assert len(paths) >= 10, paths
    urls = [fill(p, ids) for p in paths]
    # Each proposal state has its own page.
    urls += [f"/p/{ids[k]}" for k in ("draft", "talk", "decided")]
    for lang in ("es", "en"):
        if who == "visitor":
            client.cookies.set("lang", lang)
        else:  # a member's language is on the account, chosen with the form
            page = client.get("/b/maizal")
            client.post("/language", data={"csrf": csrf(page.text), "lang": lang, "next": "/"})
        for url in urls:
            r = client.get(url, headers={"Accept": "text/html"})
            if r.status_code >= 500:
                problems.append(f"{who} {lang} {url}: {r.status_code}")
                continue
            if "text/html" not in r.headers.get("content-type", ""):
                continue
            profile = url == "/" or url.startswith(("/actors/", "/@"))
            for fault in faults(r.text, lang, allow_handles=profile):
                problems.append(f"{who} {lang} {url}: {fault}")
    return problems


def test_every_page_speaks_to_people_not_machines(node: Settings, client: TestClient) -> None:
    ids = seed(node)
    ctx_of(client).reload_actors()
    problems = tour(client, ids, "visitor")
    login(client, "m0")
    problems += tour(client, ids, "integrante")
    client.cookies.clear()
    login(client, "facil")
    problems += tour(client, ids, "coordinator")
    assert not problems, "\n".join(problems)


# Forms that end the session or only choose a language: pressing them is not acting.
NOT_ACTIONS = {"/logout", "/language"}


def offered_then_refused(client: Any, urls: list[str], who: str) -> list[str]:
    """Press every button on every page as `who`: none may answer "you may not" (403).
    A 409 (someone acted first) or a 422 (a value to correct) is an honest answer."""
    problems = []
    for url in urls:
        page = client.get(url, headers={"Accept": "text/html"})
        if "text/html" not in page.headers.get("content-type", ""):
            continue
        for form in post_forms(page.text):
            if form["action"] in NOT_ACTIONS or not form["action"].startswith("/"):
                continue
            r = client.post(form["action"], data=form["data"])
            if refused(r, 403) or r.status_code == 403:
                problems.append(f"{who} offered {form['action']} on {url}, then refused")
    return problems


@pytest.mark.parametrize("who", ["m0", "other", "outsider"])
def test_no_page_offers_what_the_person_may_not_do(node: Settings, client: TestClient,
                                                   who: str) -> None:
    ids = seed(node)
    ctx_of(client).reload_actors()
    login(client, who)
    urls = [fill(p, ids) for p in page_routes(inner_app(client))]
    urls += [f"/p/{ids[k]}" for k in ("draft", "talk", "decided")]
    problems = offered_then_refused(client, urls, who)
    assert not problems, "\n".join(problems)
