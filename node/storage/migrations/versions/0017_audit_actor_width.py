"""audit actor width: a remote actor's URI (remote:<uri>) may be as long as any URI we
store (2048), not 200; on PostgreSQL the narrower column refused the whole transaction
that audited a peer with a long actor URI, so its activities could never be processed

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 20:00:00
"""
from __future__ import annotations

import sqlmodel
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite does not enforce a VARCHAR's length, and rebuilding the table (batch mode)
    # would drop the triggers that keep the log append-only (migration 0002).
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('audit_entry', 'actor',
                        type_=sqlmodel.sql.sqltypes.AutoString(length=2048),
                        existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('audit_entry', 'actor',
                        type_=sqlmodel.sql.sqltypes.AutoString(length=200),
                        existing_nullable=False)
