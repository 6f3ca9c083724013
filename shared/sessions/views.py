"""Rows to wire shapes: a session, its messages, and its line in a list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.clock import rfc3339
from shared.sessions.schemas import Message, Session, SessionSummary
from shared.sessions.tables import AISession, SessionMessage


def message_out(row: SessionMessage) -> Message:
    return Message(
        role=row.role,
        content=row.content,
        kind=row.kind,
        step_status=row.step_status,
        at=rfc3339(row.at),
    )


def session_out(row: AISession, messages: Sequence[SessionMessage]) -> Session:
    return Session(
        id=row.id,
        account_id=row.account_id,
        title=row.title,
        ticket_ref=row.ticket_ref,
        status=row.status,
        engineer_id=row.engineer_id,
        context=row.context,
        messages=[message_out(m) for m in messages],
        escalation_package=row.escalation_package,
        created_at=rfc3339(row.created_at),
        updated_at=rfc3339(row.updated_at),
    )


PACKAGE_SUMMARY_FIELDS = (
    "handoff_id",
    "intent",
    "status",
    "urgency",
    "created_at",
    "claimed_by",
    "claimed_at",
    "assessment_status",
)


def package_summary(values: Sequence[Any]) -> dict[str, Any] | None:
    """A list shows what the latest handoff is, not its whole snapshot: `values` in PACKAGE_SUMMARY_FIELDS order."""
    summary = dict(zip(PACKAGE_SUMMARY_FIELDS, values, strict=True))
    return None if summary["handoff_id"] is None else summary


def session_summary_out(row: AISession, message_count: int, package: dict[str, Any] | None) -> SessionSummary:
    return SessionSummary(
        id=row.id,
        account_id=row.account_id,
        title=row.title,
        ticket_ref=row.ticket_ref,
        status=row.status,
        engineer_id=row.engineer_id,
        message_count=message_count,
        escalation_package=package,
        created_at=rfc3339(row.created_at),
        updated_at=rfc3339(row.updated_at),
    )
