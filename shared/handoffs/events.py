"""Handoff events: what the stream and webhooks carry, written to the outbox in the transaction that caused it."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import rfc3339, utcnow
from shared.handoffs.schemas import AssessmentStatus, HandoffStatus, Person, Urgency
from shared.handoffs.tables import HandoffRow
from shared.handoffs.views import handoff_out
from shared.outbox.writer import add_event


class HandoffGlance(msgspec.Struct, kw_only=True):
    """The essentials of a handoff, enough to draw its card in a queue."""

    id: uuid.UUID
    status: HandoffStatus
    urgency: Urgency
    title: str
    created_by: Person
    claimed_by: Person | None
    assessment_status: AssessmentStatus


class PagedNow(msgspec.Struct, kw_only=True):
    user: Person
    reason: str


class HandoffEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One event of a handoff: the `data` of its stream frame, and the body of its webhook."""

    type: str
    account_id: uuid.UUID
    handoff_id: uuid.UUID
    session_id: uuid.UUID
    occurred_at: str
    handoff: HandoffGlance
    round: int | None = None  # reminders only
    step: int | None = None  # handoff_paged only: the escalation step
    paged: list[PagedNow] | None = None  # handoff_paged only: whom that step paged, and why
    link: str | None = None  # webhooks only: the handoff in the dashboard


def handoff_event(event_type: str, row: HandoffRow, **extra: Any) -> HandoffEvent:
    """The event as of now, built once when it is written."""
    view = handoff_out(row)
    return HandoffEvent(
        type=event_type,
        account_id=row.account_id,
        handoff_id=row.id,
        session_id=row.session_id,
        occurred_at=rfc3339(utcnow()),
        handoff=HandoffGlance(
            id=view.id,
            status=view.status,
            urgency=view.urgency,
            title=str(row.snapshot.get("title", "")),
            created_by=view.created_by,
            claimed_by=view.claimed_by,
            assessment_status=view.assessment_status,
        ),
        **extra,
    )


def announce(db: AsyncSession, handoff: HandoffRow, event_type: str, **extra: Any) -> None:
    """Queue `event_type` for the handoff's account stream; it goes out only if the transaction commits."""
    event = handoff_event(event_type, handoff, **extra)
    add_event(db, account_id=handoff.account_id, event_type=event_type, payload=msgspec.to_builtins(event))
