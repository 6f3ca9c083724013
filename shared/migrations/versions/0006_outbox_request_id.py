"""outbox_request_id: the request id of the work that wrote a row, beside its payload instead of inside it

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

JSONDocument = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')
outbox = sa.table(
    'outbox',
    sa.column('id', sa.BigInteger()),
    sa.column('payload', JSONDocument),
    sa.column('request_id', sa.String(128)),
    sa.column('published_at', sa.DateTime()),
)


def upgrade() -> None:
    op.add_column('outbox', sa.Column('request_id', sa.String(length=128), nullable=True))
    # Rows not yet published move their request id out of the payload, so the relay sends the payload as it is.
    connection = op.get_bind()
    pending = connection.execute(sa.select(outbox.c.id, outbox.c.payload).where(outbox.c.published_at.is_(None)))
    for row_id, payload in pending.all():
        if isinstance(payload, dict) and 'request_id' in payload:
            request_id = payload.pop('request_id')
            values = {'payload': payload, 'request_id': request_id if isinstance(request_id, str) else None}
            connection.execute(sa.update(outbox).where(outbox.c.id == row_id).values(**values))


def downgrade() -> None:
    connection = op.get_bind()
    pending = connection.execute(
        sa.select(outbox.c.id, outbox.c.payload, outbox.c.request_id).where(
            outbox.c.published_at.is_(None), outbox.c.request_id.is_not(None)
        )
    )
    for row_id, payload, request_id in pending.all():
        connection.execute(
            sa.update(outbox).where(outbox.c.id == row_id).values(payload={**payload, 'request_id': request_id})
        )
    op.drop_column('outbox', 'request_id')
