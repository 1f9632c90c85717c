"""change feed: one version counter per kind of data every process caches

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# Seeded so that a bump is a plain UPDATE: two processes bumping a topic for the first
# time would otherwise race to insert its row.
TOPICS = ("bodies", "blocks", "keys")


def upgrade() -> None:
    table = op.create_table(
        'node_change',
        sa.Column('topic', sa.String(length=32), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('topic'),
    )
    op.bulk_insert(table, [{"topic": t, "version": 0} for t in TOPICS])


def downgrade() -> None:
    op.drop_table('node_change')
