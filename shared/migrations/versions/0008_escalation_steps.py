"""escalation steps: the policy's steps and pick-up-link switch, each handoff's paging, the step of an email

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

JSONDocument = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('escalation_policies') as batch:
        batch.add_column(sa.Column('steps', JSONDocument, nullable=True))
        batch.add_column(
            sa.Column('email_pick_up_links', sa.Boolean(), nullable=False, server_default=sa.text('true'))
        )
    with op.batch_alter_table('handoffs') as batch:
        batch.add_column(sa.Column('paging', JSONDocument, nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table('deliveries') as batch:
        batch.add_column(sa.Column('step', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.drop_column('step')
    with op.batch_alter_table('handoffs') as batch:
        batch.drop_column('paging')
    with op.batch_alter_table('escalation_policies') as batch:
        batch.drop_column('email_pick_up_links')
        batch.drop_column('steps')
