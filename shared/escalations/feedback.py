"""Assessment feedback: a senior says whether the AI assessment helped, and which suggested step fixed it."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.clock import utcnow
from shared.directory.who import require_senior
from shared.errors import Forbidden, InvalidInput
from shared.escalations.schemas import FeedbackPut
from shared.handoffs.schemas import Handoff
from shared.handoffs.service import handoff_with_feedback, load_handoff
from shared.handoffs.tables import AssessmentFeedbackRow

PROVEN_STEPS_LIMIT = 200


async def put_feedback(db: AsyncSession, principal: Principal, handoff_id: uuid.UUID, body: FeedbackPut) -> Handoff:
    """One verdict per user and handoff; a second one replaces the first.

    Only the handoff's claimer gives it: the verdict steers the account's next assessments, so it
    comes from the one who worked the problem.
    """
    require_senior(principal)
    handoff = await load_handoff(db, principal, handoff_id)
    if handoff.claimed_by_id != principal.user_id:
        raise Forbidden("only the engineer who claimed the handoff may rate its assessment")
    steps = (handoff.ai_assessment_data or {}).get("suggested_steps") or []
    step_text = None
    if body.resolved_by_step is not None:
        if not 0 <= body.resolved_by_step < len(steps):
            raise InvalidInput(f"resolved_by_step must index one of the {len(steps)} suggested steps")
        step_text = str(steps[body.resolved_by_step])
    row = (
        await db.execute(
            select(AssessmentFeedbackRow)
            .where(AssessmentFeedbackRow.handoff_id == handoff.id, AssessmentFeedbackRow.user_id == principal.user_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        row = AssessmentFeedbackRow(handoff_id=handoff.id, account_id=handoff.account_id, user_id=principal.user_id)
        db.add(row)
    row.user_name = principal.name
    row.helpful = body.helpful
    row.resolved_by_step = body.resolved_by_step
    row.resolved_step = step_text
    row.comment = body.comment
    row.at = utcnow()
    await db.flush()
    return await handoff_with_feedback(db, handoff)


async def proven_steps(db: AsyncSession, account_id: uuid.UUID, *, excluding: uuid.UUID) -> dict[str, int]:
    """Suggested steps that seniors of the account said fixed past escalations, with how often."""
    query = (
        select(AssessmentFeedbackRow.resolved_step, func.count(func.distinct(AssessmentFeedbackRow.handoff_id)))
        .where(
            AssessmentFeedbackRow.account_id == account_id,
            AssessmentFeedbackRow.resolved_step.is_not(None),
            AssessmentFeedbackRow.handoff_id != excluding,
        )
        .group_by(AssessmentFeedbackRow.resolved_step)
        .order_by(func.count(func.distinct(AssessmentFeedbackRow.handoff_id)).desc())
        .limit(PROVEN_STEPS_LIMIT)
    )
    return {str(step): int(count) for step, count in (await db.execute(query)).all()}
