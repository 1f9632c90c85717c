"""reserved for the accounts and set-up pages (issue 12); no change yet

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 15:30:00
"""
from __future__ import annotations

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
