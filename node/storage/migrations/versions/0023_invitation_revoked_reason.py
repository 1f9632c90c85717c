"""invitation revoked reason: why an invitation was withdrawn ("maker-left" when its
maker stopped coordinating the body), so the list and the link can say so

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 21:40:00
"""
from __future__ import annotations

import json

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invitation') as t:
        t.add_column(sa.Column('revoked_reason', sqlmodel.sql.sqltypes.AutoString(length=16),
                               nullable=False, server_default=''))
    # Invitations withdrawn before the reason was recorded: their audit entry names them.
    bind = op.get_bind()
    ids: set[int] = set()
    for (data,) in bind.execute(sa.text(
            "SELECT data FROM audit_entry WHERE action = 'invitations.withdrawn'")):
        try:
            ids |= {int(i) for i in json.loads(data).get("invitations", [])}
        except (ValueError, TypeError, AttributeError):
            continue
    invitation = sa.table('invitation', sa.column('id', sa.Integer()),
                          sa.column('revoked_reason', sa.String()))
    for chunk in (sorted(ids)[i:i + 500] for i in range(0, len(ids), 500)):
        bind.execute(invitation.update().where(invitation.c.id.in_(chunk))
                     .values(revoked_reason='maker-left'))


def downgrade() -> None:
    with op.batch_alter_table('invitation') as t:
        t.drop_column('revoked_reason')
