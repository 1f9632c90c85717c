"""families declared when a body joins a federation and accepted by it

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 07:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing members have declared nothing: they count once until they declare and
    # the federation accepts (families used to be read from mandates, which is exactly
    # the self-declared weight this replaces).
    with op.batch_alter_table('federation_link', schema=None) as batch_op:
        batch_op.add_column(sa.Column('families', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('families_declared', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('federation_link', schema=None) as batch_op:
        batch_op.drop_column('families_declared')
        batch_op.drop_column('families')
