"""Every page, for a visitor, an integrante and a coordinator, in Spanish and in English:
nothing on it may be a URL, a handle where a name is known, a raw state or unit, a time
in UTC or ISO, English on the Spanish page or Spanish left on the English one. The
routes are read from the app, so a new page joins the tour (and must get a value for
its path here)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col
from starlette.testclient import TestClient

from node.config import Settings
from node.economy import operations as economy
from node.economy.catalogue import shared
from node.governance import amendments, assemblies, decisions, members, proposals
from node.models import Proposal
from node.models.base import utcnow
from tests.conftest import ctx_of
from tests.govfixtures import build_commune
from tests.helpers import refused
from tests.pageforms import csrf, login
from tests.pagetour import faults, fill, page_routes, post_forms
from tests.test_csrf_routes import inner_app

NS_KIND = shared().namespace


def seed(node: Any) -> dict[str, str]:
    """A commune with a proposal in each state, an amendment, a decision with its
    evaluation, an assembly, an offer and an unused invitation."""
    c = build_commune(node)
    ctx, body, people = c.ctx, c.assembly, c.people
    facil, m0, m1 = people["facil"], people["m0"], people["m1"]
    own = ctx.urls.actor(body.handle)
    with Session(ctx.engine, expire_on_commit=False) as s:
        draft = proposals.create(c.ctx.tx(s, m0), body, "Huerto escolar", "Sembrar en la escuela.",
                                 own_uri=own)
        gone = proposals.create(c.ctx.tx(s, m0), body, "Rifa", "Una rifa para la escuela.",
                                own_uri=own)
        proposals.withdraw(c.ctx.tx(s, m0), gone)
        talk = proposals.create(c.ctx.tx(s, m1), body, "Biblioteca", "Abrir una biblioteca.",
                                own_uri=own)
        proposals.open_deliberation(c.ctx.tx(s, m1), talk)
        proposals.comment(c.ctx.tx(s, m0), talk, "Buena idea.")
        amendments.amend(c.ctx.tx(s, m0), talk, "Biblioteca popular",
                         "Abrir una biblioteca popular.",
                         "Más claro.")
        voting = proposals.create(c.ctx.tx(s, m1), body, "Agua", "Reparar la tubería.", own_uri=own)
        proposals.open_deliberation(c.ctx.tx(s, m1), voting)
        proposals.open_vote(ctx.tx(s, facil), voting, utcnow() + timedelta(days=3))
        proposals.cast(c.ctx.tx(s, m0), voting, 1, "for", "")
        done = proposals.create(c.ctx.tx(s, m1), body, "Cancha", "Techar la cancha.", own_uri=own)
        proposals.open_deliberation(c.ctx.tx(s, m1), done)
        proposals.open_vote(ctx.tx(s, facil), done, utcnow() + timedelta(days=3))
        for who in ("m0", "m1", "m2", "m3"):
            proposals.cast(c.ctx.tx(s, people[who]), done, 1, "for", "")
        s.flush()
        s.execute(update(Proposal).where(col(Proposal.id) == done.id).values(
            closes_at=utcnow() - timedelta(minutes=1)))
        s.refresh(done)
        decision = decisions.close_vote(ctx.tx(s, facil), done)
        decisions.set_execution(c.ctx.tx(s, facil), decision, "carried_out", "Techada.")
        decisions.evaluate(c.ctx.tx(s, m0), decision, 4, "Quedó bien.")
        economy.publish(ctx.tx(s, facil), body, "offer", NS_KIND + "gas",
                        Decimal("12"), "kilogram", summary="Maíz de la cosecha")
        token = members.invite(c.ctx.tx(s, facil), body, "member")
        meeting, _ = decisions.record_meeting(ctx.tx(s, facil), body, utcnow(), "Casa comunal",
                                              9, 4, "1. Cancha", "Se habló de la cancha.", [])
        called = assemblies.schedule(ctx.tx(s, facil), body, assemblies.Plan(
            starts_at=utcnow() + timedelta(days=3), place="Casa comunal", agenda=(talk.id or 0,)),
            "America/Caracas")
        s.commit()
        ids = {"pid": str(voting.id), "token": token, "handle": body.handle,
               "mid": str(meeting.id), "assembly_id": str(called.id),
               "draft": str(draft.id), "talk": str(talk.id), "decided": str(done.id)}
    return ids


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
