"""event feed: what a body's members are told of (votes opened or closing, decisions,
mandates, exchanges proposed), for custom clients to read or stream

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-10 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('body_id', sa.Integer(), nullable=False),
        sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('once', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['body_id'], ['local_actor.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('once'),
    )
    op.create_index('ix_event_body_id', 'event', ['body_id'])
    op.create_table(
        'event_person',
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['event.id']),
        sa.ForeignKeyConstraint(['member_id'], ['member.id']),
        sa.PrimaryKeyConstraint('event_id', 'member_id'),
    )
    op.create_index('ix_event_person_member_id', 'event_person', ['member_id'])


def downgrade() -> None:
    op.drop_index('ix_event_person_member_id', table_name='event_person')
    op.drop_table('event_person')
    op.drop_index('ix_event_body_id', table_name='event')
    op.drop_table('event')
