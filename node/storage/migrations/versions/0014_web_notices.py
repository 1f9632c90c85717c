"""web notices: what the next page tells a browser after a form

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 15:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_notice',
        sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('payload', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint('key_hash'),
    )
    op.create_index('ix_web_notice_created_at', 'web_notice', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_web_notice_created_at', table_name='web_notice')
    op.drop_table('web_notice')
