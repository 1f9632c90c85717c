"""project bank

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 12:25:22.230663
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The project bank only; nothing existing changes.
    op.create_table('project_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('author', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('local_body_id', sa.Integer(), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('sector', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('actions', sa.Text(), nullable=False),
    sa.Column('resources', sa.Text(), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('lessons', sa.Text(), nullable=False),
    sa.Column('evaluation', sa.Text(), nullable=False),
    sa.Column('adopted_from', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('published_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('received_from', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['local_body_id'], ['local_actor.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('project_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_record_adopted_from'), ['adopted_from'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_record_author'), ['author'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_record_sector'), ['sector'], unique=False)



def downgrade() -> None:
    # The project bank only; nothing existing changes.
    with op.batch_alter_table('project_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_record_sector'))
        batch_op.drop_index(batch_op.f('ix_project_record_author'))
        batch_op.drop_index(batch_op.f('ix_project_record_adopted_from'))

    op.drop_table('project_record')
