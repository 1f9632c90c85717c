"""federated matters

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:08:19.626847
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # New proposal columns default to empty / "people": existing proposals are local.
    op.create_table('signed_object',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('author', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('matter', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('received_from', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('signed_object', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signed_object_author'), ['author'], unique=False)
        batch_op.create_index(batch_op.f('ix_signed_object_matter'), ['matter'], unique=False)
        batch_op.create_index(batch_op.f('ix_signed_object_type'), ['type'], unique=False)

    op.create_table('mandate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('member_body', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('federation', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('matter', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('position', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('amendments', sa.Text(), nullable=False),
    sa.Column('limits', sa.Text(), nullable=False),
    sa.Column('spokespersons', sa.Text(), nullable=False),
    sa.Column('families', sa.Integer(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('mandate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mandate_federation'), ['federation'], unique=False)
        batch_op.create_index(batch_op.f('ix_mandate_matter'), ['matter'], unique=False)
        batch_op.create_index(batch_op.f('ix_mandate_member_body'), ['member_body'], unique=False)
        batch_op.create_index(batch_op.f('ix_mandate_state'), ['state'], unique=False)

    op.create_table('mandated_vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('member_body', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('mandate_uri', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('spokesperson', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('choice', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('cast_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('proposal_id', 'member_body'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('mandated_vote', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mandated_vote_mandate_uri'), ['mandate_uri'], unique=False)
        batch_op.create_index(batch_op.f('ix_mandated_vote_proposal_id'), ['proposal_id'], unique=False)

    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('matter', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('electorate', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False, server_default='people'))
        batch_op.add_column(sa.Column('answers_to', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('escalation', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('escalated_to', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('escalation_note', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('final_outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('final_decision', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False, server_default=''))
        batch_op.alter_column('author_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_proposal_matter'), ['matter'], unique=False)

    with op.batch_alter_table('proposal_version', schema=None) as batch_op:
        batch_op.alter_column('author_id', existing_type=sa.INTEGER(), nullable=True)

    # ### end Alembic commands ###


def downgrade() -> None:
    with op.batch_alter_table('proposal_version', schema=None) as batch_op:
        batch_op.alter_column('author_id', existing_type=sa.INTEGER(), nullable=False)

    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_matter'))
        batch_op.alter_column('author_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('final_decision')
        batch_op.drop_column('final_outcome')
        batch_op.drop_column('escalation_note')
        batch_op.drop_column('escalated_to')
        batch_op.drop_column('escalation')
        batch_op.drop_column('answers_to')
        batch_op.drop_column('electorate')
        batch_op.drop_column('matter')

    with op.batch_alter_table('mandated_vote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mandated_vote_proposal_id'))
        batch_op.drop_index(batch_op.f('ix_mandated_vote_mandate_uri'))

    op.drop_table('mandated_vote')
    with op.batch_alter_table('mandate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mandate_state'))
        batch_op.drop_index(batch_op.f('ix_mandate_member_body'))
        batch_op.drop_index(batch_op.f('ix_mandate_matter'))
        batch_op.drop_index(batch_op.f('ix_mandate_federation'))

    op.drop_table('mandate')
    with op.batch_alter_table('signed_object', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signed_object_type'))
        batch_op.drop_index(batch_op.f('ix_signed_object_matter'))
        batch_op.drop_index(batch_op.f('ix_signed_object_author'))

    op.drop_table('signed_object')
    # ### end Alembic commands ###
