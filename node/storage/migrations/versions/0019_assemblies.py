"""assemblies: an assembly called ahead (when, where, its agenda), published as an
Event and in the body's calendar, linked to its meeting once recorded

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 22:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'assembly',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('body_id', sa.Integer(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('starts_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('ends_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('place', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('agenda', sa.Text(), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('meeting_id', sa.Integer(), nullable=True),
        sa.Column('created_by', sa.Integer(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['body_id'], ['local_actor.id']),
        sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id']),
        sa.ForeignKeyConstraint(['created_by'], ['member.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_assembly_body_id', 'assembly', ['body_id'])
    op.create_index('ix_assembly_state', 'assembly', ['state'])
    op.create_index('ix_assembly_starts_at', 'assembly', ['starts_at'])


def downgrade() -> None:
    op.drop_index('ix_assembly_starts_at', table_name='assembly')
    op.drop_index('ix_assembly_state', table_name='assembly')
    op.drop_index('ix_assembly_body_id', table_name='assembly')
    op.drop_table('assembly')
