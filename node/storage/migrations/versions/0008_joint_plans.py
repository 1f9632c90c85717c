"""joint plans

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 12:35:52.669450
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Joint plans only; nothing existing changes.
    op.create_table('joint_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=False),
    sa.Column('initiator', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('initiator_inbox', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('doc', sa.Text(), nullable=False),
    sa.Column('participants', sa.Text(), nullable=False),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=True),
    sa.Column('answered', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['body_id'], ['local_actor.id'], ),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri', 'body_id')
    )
    with op.batch_alter_table('joint_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_joint_plan_body_id'), ['body_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_joint_plan_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_joint_plan_uri'), ['uri'], unique=False)



def downgrade() -> None:
    # Joint plans only; nothing existing changes.
    with op.batch_alter_table('joint_plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_joint_plan_uri'))
        batch_op.drop_index(batch_op.f('ix_joint_plan_state'))
        batch_op.drop_index(batch_op.f('ix_joint_plan_body_id'))

    op.drop_table('joint_plan')
