"""delivery rounds and leases, outbox dead letters, indexes for the sweeper and pruning

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db.types import UTCDateTime


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('lease_until', UTCDateTime(), nullable=True))
        batch_op.drop_constraint('uq_deliveries_handoff_recipient', type_='unique')
        batch_op.create_unique_constraint(
            'uq_deliveries_handoff_recipient_round', ['handoff_id', 'recipient', 'channel', 'round']
        )
        batch_op.create_index(
            'ix_deliveries_unfinished',
            ['updated_at'],
            unique=False,
            postgresql_where=sa.text("status IN ('pending', 'sending')"),
            sqlite_where=sa.text("status IN ('pending', 'sending')"),
        )

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dead_at', UTCDateTime(), nullable=True))
        batch_op.drop_index(
            'ix_outbox_pending',
            postgresql_where=sa.text('published_at IS NULL'),
            sqlite_where=sa.text('published_at IS NULL'),
        )
        batch_op.create_index(
            'ix_outbox_pending',
            ['id'],
            unique=False,
            postgresql_where=sa.text('published_at IS NULL AND dead_at IS NULL'),
            sqlite_where=sa.text('published_at IS NULL AND dead_at IS NULL'),
        )
        batch_op.create_index(
            'ix_outbox_published',
            ['published_at'],
            unique=False,
            postgresql_where=sa.text('published_at IS NOT NULL'),
            sqlite_where=sa.text('published_at IS NOT NULL'),
        )

    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index(
            'ix_handoffs_assessment_pending',
            ['created_at'],
            unique=False,
            postgresql_where=sa.text("assessment_status = 'pending'"),
            sqlite_where=sa.text("assessment_status = 'pending'"),
        )


def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index('ix_handoffs_assessment_pending')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_published')
        batch_op.drop_index('ix_outbox_pending')
        batch_op.create_index(
            'ix_outbox_pending',
            ['id'],
            unique=False,
            postgresql_where=sa.text('published_at IS NULL'),
            sqlite_where=sa.text('published_at IS NULL'),
        )
        batch_op.drop_column('dead_at')

    # Rows of later rounds (reminders) do not fit the old one-row-per-recipient rule.
    op.execute('DELETE FROM deliveries WHERE round > 0')
    op.execute("UPDATE deliveries SET status = 'pending' WHERE status = 'sending'")
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_unfinished')
        batch_op.drop_constraint('uq_deliveries_handoff_recipient_round', type_='unique')
        batch_op.create_unique_constraint('uq_deliveries_handoff_recipient', ['handoff_id', 'recipient', 'channel'])
        batch_op.drop_column('lease_until')
        batch_op.drop_column('round')
