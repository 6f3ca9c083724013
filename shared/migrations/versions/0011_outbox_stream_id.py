"""outbox_stream_id: the id an event got from a publish the Redis replicas did not confirm

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('outbox', sa.Column('stream_id', sa.String(length=41), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('stream_id')
