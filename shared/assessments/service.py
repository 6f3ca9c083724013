"""Store an assessment once, with the event that announces it, in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.assessments.schemas import Assessment, AssessmentInput
from shared.clock import utcnow
from shared.escalations.feedback import proven_steps
from shared.handoffs.events import announce
from shared.handoffs.schemas import AssessmentStatus
from shared.handoffs.tables import HandoffRow
from shared.handoffs.views import escalation_package
from shared.sessions.tables import AISession


async def pending_assessment(db: AsyncSession, handoff_id: uuid.UUID) -> AssessmentInput | None:
    """What to assess for this handoff, or None when it is not waiting for an assessment."""
    row = await db.get(HandoffRow, handoff_id)
    if row is None or row.assessment_status != AssessmentStatus.PENDING:
        return None
    snapshot = row.snapshot
    return AssessmentInput(
        title=snapshot.get("title", ""),
        ticket_ref=snapshot.get("ticket_ref"),
        context=snapshot.get("context") or {},
        messages=snapshot.get("messages") or [],
        steps_tried=snapshot.get("steps_tried") or [],
        message_count=int(snapshot.get("message_count") or 0),
        note=row.note,
        urgency=row.urgency,
        proven_steps=await proven_steps(db, row.account_id, excluding=row.id),
    )


async def record_assessment(
    db: AsyncSession, handoff_id: uuid.UUID, status: AssessmentStatus, assessment: Assessment
) -> bool:
    """Write the result unless one is already there (a job may run twice); False when it was."""
    result = await db.execute(
        update(HandoffRow)
        .where(HandoffRow.id == handoff_id, HandoffRow.assessment_status == AssessmentStatus.PENDING)
        .values(assessment_status=status, ai_assessment_data=msgspec.to_builtins(assessment))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False  # the UPDATE matched nothing: nothing to undo
    handoff = await db.get(HandoffRow, handoff_id, populate_existing=True)
    assert handoff is not None
    session = await db.get(AISession, handoff.session_id, with_for_update=True)
    package = session.escalation_package if session is not None else None
    if session is not None and package is not None and package.get("handoff_id") == str(handoff.id):
        session.escalation_package = escalation_package(handoff)
    announce(db, handoff, "handoff_assessment_ready")
    return True


async def stale_assessments(db: AsyncSession, *, older_than_s: float, limit: int = 500) -> Sequence[uuid.UUID]:
    """Handoffs still waiting for an assessment `older_than_s` after they were made, oldest first."""
    query = (
        select(HandoffRow.id)
        .where(
            HandoffRow.assessment_status == AssessmentStatus.PENDING,
            HandoffRow.created_at < utcnow() - timedelta(seconds=older_than_s),
        )
        .order_by(HandoffRow.created_at)
        .limit(limit)
    )
    return (await db.execute(query)).scalars().all()
