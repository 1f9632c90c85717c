"""a vote's statute frozen when it opens (rule, quorum, secrecy)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 07:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('proposal', 'amendment'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('vote_statute', sa.Text(), nullable=True))
    # Votes open at upgrade time freeze the statute they have been running under: the
    # body's current one (nothing older is kept). Closed votes keep theirs in their
    # decision record, and drafts in deliberation have no vote yet.
    op.execute(
        "UPDATE proposal SET vote_statute = (SELECT la.statute FROM local_actor la"
        " WHERE la.id = proposal.body_id) WHERE state = 'vote'")
    op.execute(
        "UPDATE amendment SET vote_statute = (SELECT la.statute FROM local_actor la"
        " JOIN proposal p ON p.body_id = la.id WHERE p.id = amendment.proposal_id)"
        " WHERE state IN ('voting', 'counting')")


def downgrade() -> None:
    for table in ('amendment', 'proposal'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('vote_statute')
