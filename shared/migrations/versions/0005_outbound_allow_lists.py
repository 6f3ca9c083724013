"""outbound_allow_lists: the hosts and CIDRs exempt from the outbound guard for one account alone

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.db.types import UTCDateTime


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

JSONDocument = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'outbound_allow_lists',
        sa.Column('account_id', sa.Uuid(), nullable=False),
        sa.Column('hosts', JSONDocument, nullable=False),
        sa.Column('cidrs', JSONDocument, nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_outbound_allow_lists')),
    )


def downgrade() -> None:
    op.drop_table('outbound_allow_lists')
