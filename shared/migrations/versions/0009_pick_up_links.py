"""pick-up links: one per escalation and emailed senior, the token kept only as its hash; how a claim was made

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db.types import UTCDateTime


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pick_up_links',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('handoff_id', sa.Uuid(), nullable=False),
        sa.Column('account_id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('salt', sa.String(length=32), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], name=op.f('fk_pick_up_links_handoff_id_handoffs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pick_up_links')),
        sa.UniqueConstraint('handoff_id', 'user_id', name='uq_pick_up_links_handoff_user'),
    )
    with op.batch_alter_table('pick_up_links') as batch:
        batch.create_index(batch.f('ix_pick_up_links_token_hash'), ['token_hash'], unique=True)
    with op.batch_alter_table('handoffs') as batch:
        batch.add_column(sa.Column('claimed_via', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('handoffs') as batch:
        batch.drop_column('claimed_via')
    with op.batch_alter_table('pick_up_links') as batch:
        batch.drop_index(batch.f('ix_pick_up_links_token_hash'))
    op.drop_table('pick_up_links')
