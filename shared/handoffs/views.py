"""Rows to wire shapes: the Handoff body and the session's compatibility copy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from shared.clock import rfc3339
from shared.handoffs.schemas import AssessmentFeedback, Handoff, Intent, PagedSenior, Person
from shared.handoffs.tables import AssessmentFeedbackRow, HandoffRow


def feedback_out(row: AssessmentFeedbackRow) -> AssessmentFeedback:
    return AssessmentFeedback(
        user=Person(id=row.user_id, name=row.user_name),
        helpful=row.helpful,
        resolved_by_step=row.resolved_by_step,
        comment=row.comment,
        at=rfc3339(row.at),
    )


def handoff_out(
    row: HandoffRow, feedback: Sequence[AssessmentFeedbackRow] = (), *, snapshot: dict[str, Any] | None = None
) -> Handoff:
    """The Handoff body; `snapshot` replaces the row's own (a queue card carries only its small fields)."""
    claimed_by = None
    if row.claimed_by_id is not None:
        claimed_by = Person(id=row.claimed_by_id, name=row.claimed_by_name or "")
    return Handoff(
        id=row.id,
        account_id=row.account_id,
        session_id=row.session_id,
        intent=row.intent,
        status=row.status,
        note=row.note,
        urgency=row.urgency,
        created_by=Person(id=row.created_by_id, name=row.created_by_name),
        created_at=rfc3339(row.created_at),
        claimed_by=claimed_by,
        claimed_at=rfc3339(row.claimed_at) if row.claimed_at else None,
        snapshot=row.snapshot if snapshot is None else snapshot,
        assessment_status=row.assessment_status,
        ai_assessment_data=row.ai_assessment_data,
        reminders_sent=row.reminders_sent or 0,
        assessment_feedback=[feedback_out(f) for f in feedback],
        paged=paged_out(row),
    )


def paged_out(row: HandoffRow) -> list[PagedSenior]:
    """Everyone the escalation's steps paged, in the order they were paged."""
    return [
        PagedSenior(
            user=Person(id=user["id"], name=user["name"]), step=entry["step"], reason=user["reason"], at=entry["at"]
        )
        for entry in row.paging or []
        for user in entry["users"]
    ]


def escalation_package(row: HandoffRow) -> dict[str, Any]:
    """The session's copy of its latest handoff; always carries `handoff_id`.

    Every member of the account reads the session, so a park's private note stays out of it.
    """
    package: dict[str, Any] = msgspec.to_builtins(handoff_out(row))
    package["handoff_id"] = package["id"]
    if row.intent == Intent.PARK:
        package["note"] = ""
    return package
