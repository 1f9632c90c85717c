"""inbox: one index for a delivery's uniqueness and the lookup of an activity's copies

The delivery key is a hash: alone in its unique index, every stored row landed on a
random page of it, and a group commit of 30 rows wrote some 30 of that index's pages
to the WAL beside the rows themselves (then copied them again at the checkpoint).
Led by the activity id, one unique index (activity_id, delivery_key) says the same (the
key is made from the activity id) and also answers "the copies of this activity",
which had an index of its own: one index less to write, and its pages follow the
order of the activity ids.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 04:00:00
"""
from __future__ import annotations

from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ux_inbox_delivery', table_name='inbox_item')
    op.drop_index('ix_inbox_activity', table_name='inbox_item')
    op.create_index('ux_inbox_delivery', 'inbox_item', ['activity_id', 'delivery_key'],
                    unique=True)


def downgrade() -> None:
    op.drop_index('ux_inbox_delivery', table_name='inbox_item')
    op.create_index('ix_inbox_activity', 'inbox_item', ['activity_id'], unique=False)
    op.create_index('ux_inbox_delivery', 'inbox_item', ['delivery_key'], unique=True)
