"""A node process's database rows, read with plain SQL (for checks and for failure reports)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import create_engine, text

from tests.procnode import NodeProcess


def rows(node: NodeProcess, sql: str) -> list[Any]:
    url = json.loads((node.data_dir / "comuna.json").read_text())["database_url"]
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()
