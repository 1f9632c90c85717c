"""Pages name enterprises and bodies by what they are called, never by a slug or an
address: a remote enterprise, whose name does not travel, reads "empresa de <body>"."""

from __future__ import annotations

import json

from sqlmodel import Session

from node.config import Settings
from node.models import RemoteActor
from node.web.economy_labels import Namer
from node.web.i18n import translator
from tests.govfixtures import build_commune

REMOTE = "https://cumbe.example/actors/cumbe"


def test_a_remote_enterprise_reads_by_its_body_not_its_slug(node: Settings) -> None:
    c = build_commune(node)
    with Session(c.ctx.engine) as s:
        s.add(RemoteActor(uri=REMOTE, host="cumbe.example",
                          document=json.dumps({"id": REMOTE, "type": "Group",
                                               "name": "Comuna Cumbe Adentro"})))
        s.commit()
        farm = f"{REMOTE}/enterprises/finca"
        here = c.ctx.urls.actor(c.assembly.handle)
        unknown = "https://lejos.example/actors/lejos/enterprises/panaderia"
        es = Namer(s, c.ctx.urls, [farm, here, unknown], translator("es"))
        assert es(farm) == "empresa de Comuna Cumbe Adentro"
        assert es(here) == "Comuna El Maizal"
        assert "panaderia" not in es(unknown) and es(unknown).startswith("empresa de ")
        en = Namer(s, c.ctx.urls, [farm], translator("en"))
        assert en(farm) == "an enterprise of Comuna Cumbe Adentro"
