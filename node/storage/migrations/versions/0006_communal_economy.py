"""communal economy

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 12:12:04.851344
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tables of the communal economy only; nothing existing changes.
    op.create_table('commitment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('exchange', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('receiver', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('provider_agent', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('receiver_agent', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('offer', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('need', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('quantity', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('delivered', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('starts_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('ends_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('commitment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commitment_exchange'), ['exchange'], unique=False)
        batch_op.create_index(batch_op.f('ix_commitment_provider'), ['provider'], unique=False)
        batch_op.create_index(batch_op.f('ix_commitment_receiver'), ['receiver'], unique=False)
        batch_op.create_index(batch_op.f('ix_commitment_state'), ['state'], unique=False)

    op.create_table('economic_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('commitment', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('receiver', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('quantity', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('happened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('confirmed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('economic_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_economic_event_commitment'), ['commitment'], unique=False)
        batch_op.create_index(batch_op.f('ix_economic_event_happened_at'), ['happened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_economic_event_provider'), ['provider'], unique=False)
        batch_op.create_index(batch_op.f('ix_economic_event_receiver'), ['receiver'], unique=False)
        batch_op.create_index(batch_op.f('ix_economic_event_state'), ['state'], unique=False)

    op.create_table('resource_kind',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('label_es', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('label_en', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('extra', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug'),
    sa.UniqueConstraint('uri')
    )
    op.create_table('enterprise',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('sector', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owners', sa.Text(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['body_id'], ['local_actor.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('body_id', 'slug')
    )
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_body_id'), ['body_id'], unique=False)

    op.create_table('exchange',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('proposer_id', sa.Integer(), nullable=True),
    sa.Column('proposer', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('parties', sa.Text(), nullable=False),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('inboxes', sa.Text(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['proposer_id'], ['local_actor.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('exchange', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_proposer_id'), ['proposer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exchange_state'), ['state'], unique=False)

    op.create_table('enterprise_worker',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('council', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('enterprise_id', 'member_id')
    )
    with op.batch_alter_table('enterprise_worker', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_worker_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_worker_member_id'), ['member_id'], unique=False)

    op.create_table('intent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('side', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('agent', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('quantity', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('available', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('location', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('starts_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('ends_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('rise_after', sa.Integer(), nullable=False),
    sa.Column('rise_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('risen_to', sa.Text(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('received_from', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('body_inbox', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ),
    sa.ForeignKeyConstraint(['holder_id'], ['local_actor.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri', 'holder_id')
    )
    with op.batch_alter_table('intent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intent_body'), ['body'], unique=False)
        batch_op.create_index(batch_op.f('ix_intent_holder_id'), ['holder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intent_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_intent_rise_at'), ['rise_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_intent_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_intent_uri'), ['uri'], unique=False)



def downgrade() -> None:
    # Tables of the communal economy only; nothing existing changes.
    with op.batch_alter_table('intent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intent_uri'))
        batch_op.drop_index(batch_op.f('ix_intent_state'))
        batch_op.drop_index(batch_op.f('ix_intent_rise_at'))
        batch_op.drop_index(batch_op.f('ix_intent_kind'))
        batch_op.drop_index(batch_op.f('ix_intent_holder_id'))
        batch_op.drop_index(batch_op.f('ix_intent_body'))

    op.drop_table('intent')
    with op.batch_alter_table('enterprise_worker', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprise_worker_member_id'))
        batch_op.drop_index(batch_op.f('ix_enterprise_worker_enterprise_id'))

    op.drop_table('enterprise_worker')
    with op.batch_alter_table('exchange', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_state'))
        batch_op.drop_index(batch_op.f('ix_exchange_proposer_id'))

    op.drop_table('exchange')
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprise_body_id'))

    op.drop_table('enterprise')
    op.drop_table('resource_kind')
    with op.batch_alter_table('economic_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_economic_event_state'))
        batch_op.drop_index(batch_op.f('ix_economic_event_receiver'))
        batch_op.drop_index(batch_op.f('ix_economic_event_provider'))
        batch_op.drop_index(batch_op.f('ix_economic_event_happened_at'))
        batch_op.drop_index(batch_op.f('ix_economic_event_commitment'))

    op.drop_table('economic_event')
    with op.batch_alter_table('commitment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commitment_state'))
        batch_op.drop_index(batch_op.f('ix_commitment_receiver'))
        batch_op.drop_index(batch_op.f('ix_commitment_provider'))
        batch_op.drop_index(batch_op.f('ix_commitment_exchange'))

    op.drop_table('commitment')
