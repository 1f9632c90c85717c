from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class WebNotice(SQLModel, table=True):
    """What the next page shows a browser after a form: the confirmation, or the
    refusal with what was typed (so the form can be filled again). Kept in the
    database, not in memory, because the next page may be served by another
    process; the browser holds only a random key (`node/web/notices.py`)."""

    __tablename__ = "web_notice"

    key_hash: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    payload: str = Field(default="{}")
