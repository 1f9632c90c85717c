"""federated amendments: at a member body, the amendments its federation announces on
a matter it decides, so that a mandate can name them and people can read them

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 21:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'federated_amendment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('body_id', sa.Integer(), nullable=False),
        sa.Column('uri', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column('matter', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column('federation', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('against_version', sa.Integer(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['body_id'], ['local_actor.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('body_id', 'uri'),
    )
    op.create_index('ix_federated_amendment_body_id', 'federated_amendment', ['body_id'])
    op.create_index('ix_federated_amendment_matter', 'federated_amendment', ['matter'])


def downgrade() -> None:
    op.drop_index('ix_federated_amendment_matter', table_name='federated_amendment')
    op.drop_index('ix_federated_amendment_body_id', table_name='federated_amendment')
    op.drop_table('federated_amendment')
