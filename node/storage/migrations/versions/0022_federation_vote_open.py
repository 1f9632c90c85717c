"""federation vote open: at a member body, when the deciding federation's vote on a
matter closes, as the federation announced it on opening, so that spokespersons are
offered the vote (and told of it) only while it is open

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 21:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('proposal') as batch:
        batch.add_column(sa.Column('federation_vote_closes_at',
                                   sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('proposal') as batch:
        batch.drop_column('federation_vote_closes_at')
