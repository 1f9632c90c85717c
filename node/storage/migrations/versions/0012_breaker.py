"""a circuit breaker that heals: state, trip count, one probe at a time

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('peer_host', schema=None) as batch_op:
        batch_op.add_column(sa.Column('breaker', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=False, server_default='closed'))
        batch_op.add_column(sa.Column('trips', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('probe_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('probe_until', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
    # A host held open under the old rule (300 s, no probe) starts closed: its next
    # failures open it again under the new one, and a live peer is not kept waiting.
    op.execute("UPDATE peer_host SET open_until = NULL, consecutive_failures = 0")


def downgrade() -> None:
    with op.batch_alter_table('peer_host', schema=None) as batch_op:
        batch_op.drop_column('probe_until')
        batch_op.drop_column('probe_id')
        batch_op.drop_column('trips')
        batch_op.drop_column('breaker')
