"""what an offer would like in return (FEP-0837 reciprocal); a row version for
optimistic concurrency on offers and needs

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 12:55:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing offers and needs ask nothing in return.
    with op.batch_alter_table('intent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('in_return', sqlmodel.sql.sqltypes.AutoString(length=2048),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('row_version', sa.Integer(), nullable=False,
                                      server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('intent', schema=None) as batch_op:
        batch_op.drop_column('row_version')
        batch_op.drop_column('in_return')
