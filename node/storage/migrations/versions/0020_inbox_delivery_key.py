"""inbox: one row per delivery (activity, signing key, recipient) instead of one per
activity id, so a refused copy relayed by a stranger no longer takes the place of the
real sender's delivery, and two of our bodies each get an activity sent to both

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 19:00:00
"""
from __future__ import annotations

import hashlib

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

# SQLite's unique constraint on activity_id has no name; batch mode reflects it under
# this one so that it can be dropped.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _key(activity_id: str, signer: str, recipient: str) -> str:
    # The same as node.models.inbox.delivery_key at the time of this migration.
    return hashlib.sha256("\x00".join((activity_id, signer, recipient)).encode("utf-8")
                          ).hexdigest()


def upgrade() -> None:
    column = sa.Column('delivery_key', sqlmodel.sql.sqltypes.AutoString(length=64),
                       nullable=True)
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table('inbox_item', naming_convention=NAMING,
                                  recreate='always') as batch_op:
            batch_op.drop_constraint('uq_inbox_item_activity_id', type_='unique')
            batch_op.add_column(column)
    else:
        op.drop_constraint('inbox_item_activity_id_key', 'inbox_item', type_='unique')
        op.add_column('inbox_item', column)
    conn = op.get_bind()
    table = sa.table('inbox_item', sa.column('id', sa.Integer), sa.column('activity_id'),
                     sa.column('signer'), sa.column('recipient'), sa.column('delivery_key'))
    rows = conn.execute(sa.select(table.c.id, table.c.activity_id, table.c.signer,
                                  table.c.recipient)).all()
    if rows:
        conn.execute(table.update().where(table.c.id == sa.bindparam('row_id')).values(
            delivery_key=sa.bindparam('key')),
            [{"row_id": i, "key": _key(a, s, r)} for i, a, s, r in rows])
    op.create_index('ix_inbox_activity', 'inbox_item', ['activity_id'], unique=False)
    op.create_index('ux_inbox_delivery', 'inbox_item', ['delivery_key'], unique=True)


def downgrade() -> None:
    # Back to one row per activity id: later copies of an activity are dropped.
    conn = op.get_bind()
    conn.execute(sa.text(
        "DELETE FROM inbox_item WHERE id NOT IN "
        "(SELECT MIN(id) FROM inbox_item GROUP BY activity_id)"))
    op.drop_index('ux_inbox_delivery', table_name='inbox_item')
    op.drop_index('ix_inbox_activity', table_name='inbox_item')
    if conn.dialect.name == "sqlite":
        with op.batch_alter_table('inbox_item', recreate='always') as batch_op:
            batch_op.drop_column('delivery_key')
            batch_op.create_unique_constraint('inbox_item_activity_id_key', ['activity_id'])
    else:
        op.drop_column('inbox_item', 'delivery_key')
        op.create_unique_constraint('inbox_item_activity_id_key', 'inbox_item',
                                    ['activity_id'])
