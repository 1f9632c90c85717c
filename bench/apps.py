"""App variants for the inbox benchmark, loaded by uvicorn worker processes."""

from __future__ import annotations

from typing import Any

from node.app import create_app


def floor_app() -> Any:
    """The same server, signature check included, answering 202 without storing."""
    return create_app(store_inbox=False, background=False)
