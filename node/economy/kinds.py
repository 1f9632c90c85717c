"""Adding resource kinds to the catalogue of this node (the shared ones come with
the software). A kind added here is named under this node's address; other nodes
match it only with offers and needs naming the same URI."""

from __future__ import annotations

import json

from sqlmodel import select

from node.economy.catalogue import quantity, shared
from node.economy.enterprises import SLUG
from node.errors import Problem
from node.governance.authz import require_facilitator
from node.models import LocalActor, ResourceKind
from node.tx import Tx


def add(tx: Tx, primary: LocalActor, slug: str,
        label_es: str, label_en: str, unit: str, extra: dict[str, str]) -> ResourceKind:
    """A facilitator of the node's main body adds a kind."""
    session, urls = tx.session, tx.urls
    require_facilitator(session, tx.member, primary)
    cat = shared()
    if not SLUG.match(slug):
        raise Problem(422, "bad-slug", "a short name of lowercase letters, digits and dashes")
    if cat.namespace + slug in cat.kinds or session.exec(
            select(ResourceKind.id).where(ResourceKind.slug == slug)).first():
        raise Problem(409, "exists", f"the catalogue has {slug} already")
    if unit not in cat.units:
        raise Problem(422, "unknown-unit", f"{unit} is not a unit ({', '.join(cat.units)})")
    if not label_es.strip():
        raise Problem(422, "bad-label", "a kind needs a Spanish name")
    sizes = {}
    for name, size in extra.items():
        if not SLUG.match(name) or name in cat.units:
            raise Problem(422, "bad-unit", f"{name!r} cannot name a unit of its own")
        sizes[name] = str(quantity(size))
    row = ResourceKind(uri=f"{urls.base}/resource-kinds/{slug}", slug=slug,
                       label_es=label_es.strip()[:200], label_en=label_en.strip()[:200],
                       unit=unit, extra=json.dumps(sizes, sort_keys=True))
    session.add(row)
    session.flush()
    tx.audit("economy.kind_added", f"kind:{row.id}", {"uri": row.uri, "unit": unit})
    return row


