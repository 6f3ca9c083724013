"""on_call_documents: an account's on-call rotations and overrides, one JSON document per account

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.db.types import UTCDateTime


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

JSONDocument = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'on_call_documents',
        sa.Column('account_id', sa.Uuid(), nullable=False),
        sa.Column('document', JSONDocument, nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_on_call_documents')),
    )


def downgrade() -> None:
    op.drop_table('on_call_documents')
