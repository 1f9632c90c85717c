"""mandate refusal: the federation's reason when it refused a vote under a mandate

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 15:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mandate') as t:
        t.add_column(sa.Column('refusal', sa.Text(), nullable=False, server_default=''))
        t.add_column(sa.Column('refusal_code', sqlmodel.sql.sqltypes.AutoString(length=64),
                               nullable=False, server_default=''))
        t.add_column(sa.Column('refused_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                               nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mandate') as t:
        t.drop_column('refused_at')
        t.drop_column('refusal_code')
        t.drop_column('refusal')
