"""Write events and jobs into the outbox, inside the caller's transaction.

Nothing here talks to Redis: the relay publishes the rows after the transaction commits, so a
rolled-back change announces nothing and a committed one is never lost. Each row keeps the request id
of the work that wrote it beside its payload, so the jobs it causes log under the same id.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.observability.context import current_request_id
from shared.outbox.table import OutboxRow

# Set on the session when a transaction wrote outbox rows, so the relay can be woken after commit.
PENDING_FLAG = "outbox_pending"


def add_event(db: AsyncSession, *, account_id: uuid.UUID, event_type: str, payload: dict[str, Any]) -> OutboxRow:
    """Queue an event for the account's stream."""
    row = OutboxRow(
        account_id=account_id, kind="event", topic=event_type, payload=payload, request_id=current_request_id()
    )
    db.add(row)
    db.info[PENDING_FLAG] = True
    return row


def add_job(
    db: AsyncSession, *, account_id: uuid.UUID | None, name: str, job_id: str, payload: dict[str, Any]
) -> OutboxRow:
    """Queue a background job; `job_id` is deterministic so a re-sent job runs once."""
    row = OutboxRow(
        account_id=account_id,
        kind="job",
        topic=name,
        job_id=job_id,
        payload=payload,
        request_id=current_request_id(),
    )
    db.add(row)
    db.info[PENDING_FLAG] = True
    return row
