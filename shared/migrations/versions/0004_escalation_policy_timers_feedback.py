"""escalation policies, handoff timers (reminders, stale claims), assessment feedback, reminders_sent

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db.types import UTCDateTime


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

AutoId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminders_sent', sa.Integer(), server_default=sa.text('0'), nullable=False))

    op.create_table(
        'escalation_policies',
        sa.Column('account_id', sa.Uuid(), nullable=False),
        sa.Column('reminder_low_s', sa.Integer(), nullable=False),
        sa.Column('reminder_normal_s', sa.Integer(), nullable=False),
        sa.Column('reminder_high_s', sa.Integer(), nullable=False),
        sa.Column('max_reminders', sa.Integer(), nullable=False),
        sa.Column('stale_claim_s', sa.Integer(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_escalation_policies')),
    )
    op.create_table(
        'handoff_timers',
        sa.Column('id', AutoId, autoincrement=True, nullable=False),
        sa.Column('handoff_id', sa.Uuid(), nullable=False),
        sa.Column('account_id', sa.Uuid(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('due_at', UTCDateTime(), nullable=False),
        sa.Column('last_message_id', sa.BigInteger(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('fired_at', UTCDateTime(), nullable=True),
        sa.Column('cancelled_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ['handoff_id'], ['handoffs.id'], name=op.f('fk_handoff_timers_handoff_id_handoffs')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_timers')),
        sa.UniqueConstraint('handoff_id', 'kind', 'round', name='uq_handoff_timers_handoff_kind_round'),
    )
    with op.batch_alter_table('handoff_timers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_timers_handoff_id'), ['handoff_id'], unique=False)
        batch_op.create_index(
            'ix_handoff_timers_due',
            ['due_at'],
            unique=False,
            postgresql_where=sa.text('fired_at IS NULL AND cancelled_at IS NULL'),
            sqlite_where=sa.text('fired_at IS NULL AND cancelled_at IS NULL'),
        )
    op.create_table(
        'assessment_feedback',
        sa.Column('id', AutoId, autoincrement=True, nullable=False),
        sa.Column('handoff_id', sa.Uuid(), nullable=False),
        sa.Column('account_id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('user_name', sa.String(length=200), nullable=False),
        sa.Column('helpful', sa.Boolean(), nullable=False),
        sa.Column('resolved_by_step', sa.Integer(), nullable=True),
        sa.Column('resolved_step', sa.Text(), nullable=True),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['handoff_id'], ['handoffs.id'], name=op.f('fk_assessment_feedback_handoff_id_handoffs')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_feedback')),
        sa.UniqueConstraint('handoff_id', 'user_id', name='uq_assessment_feedback_handoff_user'),
    )
    with op.batch_alter_table('assessment_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_feedback_handoff_id'), ['handoff_id'], unique=False)
        batch_op.create_index('ix_assessment_feedback_account', ['account_id'], unique=False)


def downgrade() -> None:
    op.drop_table('assessment_feedback')
    op.drop_table('handoff_timers')
    op.drop_table('escalation_policies')
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_column('reminders_sent')
