"""Setting up and running a body from the pages: its name, its councils, its statute,
members and roles, invitations."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
