"""Row ids in paths. Every table's id is a 32-bit integer on PostgreSQL (and SQLite
cannot hold Python integers past 64 bits): a larger number in a path is refused as a
bad request here rather than reaching the database and failing there (a 500)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from node.models.base import MAX_ID

RowId = Annotated[int, Path(ge=0, le=MAX_ID)]
