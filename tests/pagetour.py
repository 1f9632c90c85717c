"""A tour of every page: which GET routes are pages (read from the app below its
middleware), what values fill their paths, and what a person must never read on one
(a URL, a raw state or unit, UTC, English on a Spanish page, a Spanish sentence left on
an English one)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

from starlette.testclient import TestClient

from node.web.i18n import catalog

# GET routes that are not pages for people.
NOT_PAGES = ("/api/", "/.well-known/", "/nodeinfo", "/healthz", "/favicon", "/idioma/",
             "/objects/", "/activities/", "/amendments/", "/_local/", "/docs/")
# ActivityPub documents also answer browsers with a page, but only the actor does so
# (the profile); the others are JSON for servers.
AP_JSON = re.compile(r"^/actors/\{handle\}/(outbox|followers|following|inbox|collections)")
# Files a page links to for downloading or printing elsewhere, not pages.
FILES = re.compile(r"(/exports/|\.(pdf|ics|csv|json)$)")

# Values a page shows only as words: states, roles, positions, outcomes, units,
# ValueFlows actions, levels, rules. As whole words on a Spanish page they are a raw
# value leaking through.
RAW_VALUES = {
    "draft", "deliberation", "decided", "carried_out", "evaluated", "withdrawn", "voting",
    "accepted", "rejected", "stale", "live", "recalled", "lapsed", "superseded", "refused",
    "counted", "proposed", "agreed", "cancelled", "fulfilled", "facilitator", "facilitators",
    "member", "members", "spokesperson", "approve", "reject", "abstain",
    "approve_with_amendments", "adopted", "no_quorum", "in_progress", "kilogram",
    "cubicMetre", "litre", "hour", "dropoff", "pickup", "transfer", "produce", "consume",
    "offer", "need", "commune", "city", "territory", "nation", "thematic",
    "sectoral_council", "majority", "qualified", "consent", "families", "requested",
    "pending", "open", "closed", "queued", "failed", "delivered",
}
# Words of English that a Spanish page has no reason to contain.
ENGLISH = {"the", "only", "must", "cannot", "should", "this", "these", "with", "which",
           "there", "yet", "none", "may", "not", "please", "your", "you", "form", "expired",
           "reload", "nothing", "here", "try", "again"}
PLURAL_AFTER_ONE = re.compile(
    r"(?<![\d.,])\b1\s+(integrantes|miembros|votos|propuestas|familias|personas|días|horas|"
    r"decisiones|comentarios|enmiendas|seguidores|ofertas|necesidades)\b")
ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
URL = re.compile(r"https?://")
# A handle where a name should be; handles at ejemplo.org are examples of what to type.
HANDLE = re.compile(r"@[\w.-]+@(?!ejemplo\.org)[\w.-]+")


def inner_app(client: TestClient) -> Any:
    """The app a TestClient drives, below its middleware: the one that has the routes."""
    app = client.app
    while not hasattr(app, "routes"):
        app = app.app  # type: ignore[attr-defined]
    return app


def page_routes(app: Any) -> list[str]:
    """Paths of every GET route that serves a page (lazy routers resolved)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        entries: Any = app.routes
    else:
        entries = iter_route_contexts(app.routes)
    out = []
    for route in entries:
        path = getattr(route, "path", "")
        if "GET" not in (getattr(route, "methods", None) or set()):
            continue
        if path.startswith(NOT_PAGES) or AP_JSON.match(path) or FILES.search(path):
            continue
        out.append(path)
    return sorted(set(out))


def fill(path: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise KeyError(f"the page tour has no value for {{{name}}} in {path}: add one")
        return values[name]

    return re.sub(r"\{(\w+)(?::\w+)?\}", one, path)


def visible_text(page: str) -> str:
    """What a person reads: the text between tags (not styles), the title, and the
    words in placeholders, labels for screen readers and buttons."""
    page = re.sub(r"(?is)<style.*?</style>|<script.*?</script>", " ", page)
    extra = re.findall(r'(?i)\b(?:placeholder|aria-label|title|alt)="([^"]*)"', page)
    extra += re.findall(r'(?i)<input[^>]*type="submit"[^>]*value="([^"]*)"', page)
    text = re.sub(r"(?s)<[^>]+>", " ", page)
    return html.unescape(" ".join([text, *extra]))


def spanish_sentences() -> set[str]:
    """Page strings of three words or more that have an English translation: seen on
    an English page, they were not translated."""
    table = catalog("en")
    return {k for k, v in table.items() if len(k.split()) >= 3 and k != v}


def faults(page: str, lang: str, allow_handles: bool = False) -> list[str]:
    text = visible_text(page)
    found = []
    if m := URL.search(text):
        found.append(f"a URL: {text[m.start():][:60]!r}")
    if not allow_handles and (m := HANDLE.search(text)):
        found.append(f"a handle instead of a name: {m.group(0)}")
    if m := (ISO_TIME.search(text) or re.search(r"\bUTC\b", text)):
        found.append(f"a time in ISO or UTC: {m.group(0)}")
    if m := PLURAL_AFTER_ONE.search(text):
        found.append(f"a plural after one: {m.group(0)!r}")
    words = set(re.findall(r"[A-Za-z_]+", text))
    if lang == "es":
        raw = sorted(words & RAW_VALUES)
        english = sorted({w for w in words if w.lower() in ENGLISH})
        if raw:
            found.append(f"raw values: {raw}")
        if english:
            found.append(f"English words: {english}")
    else:
        left = sorted(s for s in spanish_sentences() if s in text)
        if left:
            found.append(f"Spanish left untranslated: {left[:5]}")
    return found


def _fill_input(f: dict[str, Any], name: str, a: dict[str, str]) -> None:
    """What a person leaves in an <input> of form `f` (or its first submit button)."""
    kind = a.get("type", "text")
    if kind in ("radio", "checkbox"):
        if name not in f["data"] or "checked" in a:
            f["data"][name] = a.get("value", "on")
    elif kind == "submit":
        f["button"] = f["button"] or (name, a.get("value", ""))
    elif kind == "number":
        f["data"][name] = a.get("value") or a.get("min") or "1"
    elif kind == "password":
        # The account's own password where one is asked for, a new one elsewhere.
        f["data"][name] = "contraseña-larga" if "current" in name or "actual" in name \
            else "contraseña-larga-nueva"
    else:
        f["data"][name] = a.get("value") or ("Prueba" if "required" in a else "")


class _Forms(HTMLParser):
    """The POST forms of a page, each with the values a person would send by pressing
    its first button without choosing anything else (required fields filled)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs_list}
        if tag == "form" and a.get("method", "").lower() == "post":
            self._form = {"action": a.get("action", ""), "data": {}, "button": None}
            return
        f = self._form
        if f is None:
            return
        name = a.get("name", "")
        if tag == "input" and name:
            _fill_input(f, name, a)
        elif tag == "button" and f["button"] is None:
            f["button"] = (name, a.get("value", "")) if name else ("", "")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and self._select not in f["data"]:
            f["data"][self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            f["data"][name] = "Prueba" if "required" in a else ""

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea and data.strip():
            self._form["data"][self._textarea] = data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self._form is not None:
            if self._form["button"] and self._form["button"][0]:
                name, value = self._form["button"]
                self._form["data"][name] = value
            self.forms.append(self._form)
            self._form = None


def post_forms(page: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms
