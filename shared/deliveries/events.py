"""The event a channel carries: the one the outbox wrote with the change, never one built again at send time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.handoffs.tables import HandoffRow
from shared.observability.context import REQUEST_ID_KEY
from shared.outbox.table import OutboxRow


async def written_event(db: AsyncSession, handoff: HandoffRow, event_type: str) -> dict[str, Any] | None:
    """The data the stream carried (or will) for the handoff's `event_type`; None once the outbox pruned it."""
    query = (
        select(OutboxRow.payload)
        .where(
            OutboxRow.kind == "event",
            OutboxRow.topic == event_type,
            OutboxRow.account_id == handoff.account_id,
            # Published since the handoff was made, or not yet: both partial indexes of the outbox serve this.
            or_(OutboxRow.published_at.is_(None), OutboxRow.published_at >= handoff.created_at),
            OutboxRow.payload["handoff_id"].as_string() == str(handoff.id),
        )
        .order_by(OutboxRow.id)
        .limit(1)
    )
    payload = await db.scalar(query)
    if payload is None:
        return None
    # The request id is for our logs; the stream's data never carries it (the relay strips it the same way).
    return {key: value for key, value in payload.items() if key != REQUEST_ID_KEY}
