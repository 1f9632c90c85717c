"""amendment votes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 08:49:38.010731
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing amendments get an empty record: they were decided by their author.
    op.create_table('amendment_vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('amendment_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('choice', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('cast_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['amendment_id'], ['amendment.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('amendment_id', 'member_id')
    )
    with op.batch_alter_table('amendment_vote', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_amendment_vote_amendment_id'), ['amendment_id'], unique=False)

    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closes_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('record', sa.Text(), nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_amendment_closes_at'), ['closes_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_amendment_state'), ['state'], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    # Existing amendments get an empty record: they were decided by their author.
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_amendment_state'))
        batch_op.drop_index(batch_op.f('ix_amendment_closes_at'))
        batch_op.drop_column('record')
        batch_op.drop_column('closes_at')

    with op.batch_alter_table('amendment_vote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_amendment_vote_amendment_id'))

    op.drop_table('amendment_vote')
    # ### end Alembic commands ###
