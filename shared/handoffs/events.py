"""Handoff events: the SSE payload, written to the outbox in the transaction that caused it."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import rfc3339, utcnow
from shared.db.models import Handoff as HandoffRow
from shared.handoffs.views import handoff_out
from shared.outbox.writer import add_event


def event_payload(event_type: str, row: HandoffRow) -> dict[str, Any]:
    """The SSE `data` of a handoff event, built once when the event is written."""
    view = handoff_out(row)
    return {
        "type": event_type,
        "account_id": str(row.account_id),
        "handoff_id": str(row.id),
        "session_id": str(row.session_id),
        "occurred_at": rfc3339(utcnow()),
        "handoff": msgspec.to_builtins(
            {
                "id": view.id,
                "status": view.status,
                "urgency": view.urgency,
                "title": row.snapshot.get("title", ""),
                "created_by": view.created_by,
                "claimed_by": view.claimed_by,
                "assessment_status": view.assessment_status,
            }
        ),
    }


def announce(db: AsyncSession, handoff: HandoffRow, event_type: str) -> None:
    """Queue `event_type` for the handoff's account stream; it goes out only if the transaction commits."""
    add_event(db, account_id=handoff.account_id, event_type=event_type, payload=event_payload(event_type, handoff))
