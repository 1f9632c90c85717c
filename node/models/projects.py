"""Records of the project bank, one row per record known to this node."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class ProjectRecord(SQLModel, table=True):
    __tablename__ = "project_record"

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    # The body that wrote it (actor URI); `local_body_id` when that body lives here.
    author: str = Field(max_length=2048, index=True)
    local_body_id: int | None = Field(default=None, foreign_key="local_actor.id")
    title: str = Field(max_length=300)
    sector: str = Field(default="", max_length=100, index=True)
    problem: str = Field(default="", sa_type=Text)
    actions: str = Field(default="", sa_type=Text)
    resources: str = Field(default="", sa_type=Text)
    outcome: str = Field(default="", sa_type=Text)
    lessons: str = Field(default="", sa_type=Text)
    evaluation: str = Field(default="", sa_type=Text)
    # The record this one adopts (its origin), if any.
    adopted_from: str = Field(default="", max_length=2048, index=True)
    published_at: datetime = Field(default_factory=utcnow)
    received_from: str = Field(default="", max_length=2048)
    # Lower-cased title and texts, for search on every database.
    search_text: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
