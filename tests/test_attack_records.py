"""Attacks, as a stranger or a careless hand would make them, on the records a body
keeps and hands out: actas, exports, the event feed, assemblies in the calendar,
pictures, backups; and on the ids and numbers every route and form reads."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import stat
import tarfile
from datetime import timedelta
from pathlib import Path

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col

from node.cli.main import main as cli
from node.config import Settings
from node.errors import Problem
from node.governance import assemblies, decisions, proposals
from node.governance.assemblies import Plan
from node.models import Assembly, Proposal
from node.models.base import utcnow
from node.web import acta_pdf
from tests import rfc5545
from tests.apiclient import Headers, people  # noqa: F401
from tests.conftest import PG_URL, Databases
from tests.govfixtures import Commune, build_commune
from tests.helpers import id_of, stored
from tests.pageforms import csrf, login


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


HUGE = 10**20


def test_ids_out_of_range_in_the_new_routes_are_refused(client: TestClient) -> None:
    for path in (f"/p/{HUGE}/acta", f"/p/{HUGE}/acta.pdf",
                 f"/b/maizal/meetings/{HUGE}/acta", f"/b/maizal/meetings/{HUGE}/acta.pdf",
                 f"/b/maizal/assemblies/{HUGE}", f"/api/v1/bodies/maizal/assemblies/{HUGE}",
                 f"/p/{-HUGE}/acta", "/b/maizal/meetings/-1/acta"):
        r = client.get(path)
        assert r.status_code == 422, (path, r.status_code, r.text[:300])


def test_huge_ids_in_older_routes_are_refused(client: TestClient) -> None:
    """Every route's path ids are bounded (node/api/ids.py): refused before the database."""
    for path in (f"/p/{HUGE}", f"/api/v1/proposals/{HUGE}", f"/api/v1/decisions/{HUGE}"):
        r = client.get(path)
        assert r.status_code == 422, (path, r.status_code, r.text[:200])


# --- backups -------------------------------------------------------------------------


def _archive(node: Settings, tmp_path: Path) -> Path:
    out = tmp_path / "good.tar.gz"
    assert cli(["backup", "--data-dir", str(node.data_dir), str(out)]) == 0
    return out


def test_restore_never_writes_outside_its_folder_nor_follows_links(
        node: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Members named ../x or /x are never written, and a settings file that is a link
    to a file elsewhere is refused, not followed."""
    good = _archive(node, tmp_path)
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(good, "r:gz") as tar, tarfile.open(evil, "w:gz") as out:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "comuna.json":
                link = tarfile.TarInfo("comuna.json")
                link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
                out.addfile(link)
                continue
            out.addfile(member, io.BytesIO(data))
        for name in ("../../escaped", str(tmp_path / "absolute")):
            info = tarfile.TarInfo(name)
            info.size = 3
            out.addfile(info, io.BytesIO(b"bad"))
    capsys.readouterr()
    assert cli(["restore", "--data-dir", str(tmp_path / "new"), str(evil)]) == 2
    assert "not a file" in capsys.readouterr().err
    assert not (tmp_path / "absolute").exists() and not (tmp_path / "new").exists()
    assert not (tmp_path.parent.parent / "escaped").exists()


def test_restored_folder_and_archive_are_private(node: Settings, tmp_path: Path,
                                                 databases: Databases) -> None:
    good = _archive(node, tmp_path)
    assert stat.S_IMODE(good.stat().st_mode) == 0o600
    with tarfile.open(good, "r:gz") as tar:
        config = json.loads(tar.extractfile("comuna.json").read())  # type: ignore[union-attr]
    assert "database_url" not in config
    new = tmp_path / "new"
    # On PostgreSQL the facilitator names an empty database; SQLite goes into the folder.
    target = ["--database-url", databases.new("restored", empty=True)] if PG_URL else []
    assert cli(["restore", "--data-dir", str(new), str(good), *target]) == 0
    assert stat.S_IMODE(new.stat().st_mode) & 0o077 == 0
    if not PG_URL:
        assert stat.S_IMODE((new / "comuna.sqlite3").stat().st_mode) & 0o077 == 0


def test_restore_to_a_sqlite_file_in_a_missing_folder_is_refused_in_one_line(
        node: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _archive(node, tmp_path)
    capsys.readouterr()
    target = tmp_path / "nowhere" / "db.sqlite3"
    code = cli(["restore", "--data-dir", str(tmp_path / "new"), str(good),
                "--database-url", f"sqlite:///{target}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err, err
    assert not (tmp_path / "new").exists()


# --- assemblies called ahead -----------------------------------------------------------


def _open_matter(c: Commune, title: str) -> int:
    with c.session() as s:
        p = proposals.create(c.ctx.tx(s, c.people["m0"]), c.assembly, title,
                             "Texto.", own_uri=c.ctx.urls.actor("maizal"))
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        s.commit()
        return id_of(p)


def test_changing_the_place_on_the_page_keeps_a_matter_decided_meanwhile(
        node: Settings, client: TestClient) -> None:
    """docs/calendar.md: a matter already on the agenda stays if it is decided
    meanwhile. The change form offered only open matters, so saving any change (a new
    place) dropped it, and put the rest in proposal-id order."""
    c = build_commune(node)
    decided, still = _open_matter(c, "Techar la cancha"), _open_matter(c, "Huerto escolar")
    with c.session() as s:
        a = assemblies.schedule(c.ctx.tx(s, c.people["facil"]), c.assembly, Plan(
            starts_at=utcnow() + timedelta(days=5), place="Casa comunal",
            agenda=(still, decided)), "America/Caracas")
        s.commit()
        aid = id_of(a)
        s.execute(update(Proposal).where(col(Proposal.id) == decided).values(state="decided"))
        s.commit()
    login(client, "facil")
    page = client.get(f"/b/maizal/assemblies/{aid}")
    assert page.status_code == 200
    starts = re.search(r'name="starts_at" value="([^"]*)"', page.text)
    assert starts is not None
    form = {"csrf": csrf(page.text), "starts_at": html.unescape(starts.group(1)),
            "place": "Escuela"}
    for name in re.findall(r'name="(agenda-\d+)" value="1" checked', page.text):
        form[name] = "1"
    r = client.post(f"/b/maizal/assemblies/{aid}", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    with c.session() as s:
        row = stored(s, Assembly, aid)
        assert row.place == "Escuela"
        # ...and the agenda keeps its order (it was re-sorted by proposal id).
        assert assemblies.agenda_ids(row) == [still, decided]


# --- actas with odd text -----------------------------------------------------------------

ODD = ("Asamblea 🌽👩🏽‍🌾 «ñ» שלום عليكم \u200f\u202e reversed \x0b\x1b[31m "
       + "x" * 400 + " \t fin")


def _odd_meeting(c: Commune) -> int:
    pid = _open_matter(c, ODD[:290])
    with c.session() as s:
        meeting, _made = decisions.record_meeting(
            c.ctx.tx(s, c.people["facil"]), c.assembly, utcnow() - timedelta(hours=2),
            ODD[:300], 10, 4, ODD, ODD * 3, [{"proposal_id": pid, "for": 6, "against": 1,
                                              "abstain": 0}])
        s.commit()
        return id_of(meeting)


@pytest.mark.parametrize("unicode_font", [True, False])
def test_an_acta_with_emoji_rtl_and_control_characters_prints(
        node: Settings, client: TestClient, monkeypatch: pytest.MonkeyPatch,
        unicode_font: bool) -> None:
    if not unicode_font:
        monkeypatch.setattr(acta_pdf, "FONT_DIRS", ())
    c = build_commune(node)
    mid = _odd_meeting(c)
    for path in (f"/b/maizal/meetings/{mid}/acta", f"/b/maizal/meetings/{mid}/acta.pdf"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
    assert r.content.startswith(b"%PDF")


# --- the calendar feed ---------------------------------------------------------------------


def test_the_feed_stays_valid_with_newlines_and_control_characters(
        node: Settings, client: TestClient) -> None:
    """A new line in a place or title cannot start a property of its own, and control
    characters (RFC 5545 §3.3.11 allows none in TEXT but HTAB) do not reach the feed,
    where one of them can make a phone drop the whole subscription."""
    c = build_commune(node)
    evil = "Casa\r\nATTENDEE:mailto:x@example.org\rEND:VEVENT\nX\x0b\x1b[2J\x07"
    with c.session() as s:
        assemblies.schedule(c.ctx.tx(s, c.people["facil"]), c.assembly, Plan(
            starts_at=utcnow() + timedelta(days=5), place=evil, address=evil, title=evil,
            description=evil), "America/Caracas")
        s.commit()
    r = client.get("/b/maizal/calendar.ics")
    assert r.status_code == 200
    assert rfc5545.problems(r.content) == []
    lines = r.content.split(b"\r\n")
    assert not any(line.startswith((b"ATTENDEE", b"X\x0b")) for line in lines)
    assert sum(line == b"END:VEVENT" for line in lines) == 1
    assert not any(ch < 0x20 and ch != 0x09 for ch in r.content.replace(b"\r\n", b""))
    cal = icalendar.Calendar.from_ical(r.content)
    (ev,) = cal.walk("VEVENT")
    assert "ATTENDEE" in str(ev["LOCATION"]) and "ATTENDEE" not in ev


# --- the meeting form, which now names the assembly it was ---------------------------------


@pytest.mark.parametrize("field,value", [("assembly", "²"), ("attendance", "²"),
                                         ("attendance", "9" * 25), ("assembly", "9" * 25)])
def test_the_meeting_form_refuses_odd_numbers_in_words(
        node: Settings, client: TestClient, field: str, value: str) -> None:
    """str.isdigit() is true of "²", which int() refuses: that was a 500."""
    build_commune(node)
    login(client, "facil")
    form = client.get("/b/maizal/meetings/new")
    data = {"csrf": csrf(form.text), "held_at": (utcnow() - timedelta(hours=1)).isoformat(),
            "attendance": "40", "place": "Casa comunal", field: value}
    r = client.post("/b/maizal/meetings", data=data, follow_redirects=False)
    assert r.status_code in (303, 404, 409, 422), (r.status_code, r.text[:300])


def test_the_meetings_api_refuses_numbers_past_the_database(
        client: TestClient, people: dict[str, Headers]) -> None:  # noqa: F811
    held = (utcnow() - timedelta(hours=1)).isoformat()
    for extra in ({"attendance": HUGE}, {"families": HUGE}, {"assembly_id": HUGE},
                  {"decisions": [{"proposal_id": HUGE, "for": 1}]},
                  {"decisions": [{"proposal_id": 1, "for": HUGE}]}):
        r = client.post("/api/v1/bodies/maizal/meetings", headers=people["facil"],
                        json={"held_at": held, "attendance": 10, **extra})
        assert r.status_code in (404, 422), (extra, r.status_code, r.text[:300])


def test_form_numbers_are_ascii_digits_within_a_row_id() -> None:
    from node.web.numbers import whole
    from node.web.proposal_pages import _days

    assert [whole(x) for x in ("7", " 12 ", "0")] == [7, 12, 0]
    assert [whole(x) for x in ("²", "٣", "-1", "1.5", "", "9" * 25)] == [None] * 6
    with pytest.raises(Problem) as far:  # a date past year 9999 cannot be made: 422
        _days({"days": "2147483647"}, utcnow())
    assert far.value.status == 422
    assert _days({"days": "²"}, utcnow()) is None  # not a number: the statute's default
