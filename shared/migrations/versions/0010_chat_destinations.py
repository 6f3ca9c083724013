"""chat destinations: an account's Teams and Slack webhooks, their URLs sealed

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-06 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db.types import UTCDateTime


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'chat_destinations',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('account_id', sa.Uuid(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('label', sa.String(length=80), nullable=False),
        sa.Column('url_encrypted', sa.Text(), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('enabled_since', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_destinations')),
        sa.UniqueConstraint('account_id', 'label', name='uq_chat_destinations_account_label'),
    )
    with op.batch_alter_table('chat_destinations') as batch:
        batch.create_index(batch.f('ix_chat_destinations_account_id'), ['account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('chat_destinations') as batch:
        batch.drop_index(batch.f('ix_chat_destinations_account_id'))
    op.drop_table('chat_destinations')
