"""The escalation queue: an account's escalations, newest first, in stable keyset pages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.policy import require_senior
from shared.auth.principal import Principal
from shared.db.models import HandoffRow
from shared.handoffs.schemas import HandoffPage, Intent, QueueStatus
from shared.handoffs.service import feedback_of
from shared.handoffs.views import handoff_out
from shared.pagination import newest_first_page


async def list_escalations(
    db: AsyncSession,
    principal: Principal,
    *,
    cursor_key: bytes,
    status: QueueStatus = "open",
    limit: int = 50,
    cursor: str | None = None,
) -> HandoffPage:
    """Escalations of the caller's account that the caller did not create."""
    account_id = require_senior(principal)
    query = select(HandoffRow).where(
        HandoffRow.account_id == account_id,
        HandoffRow.intent == Intent.ESCALATE,
        HandoffRow.created_by_id != principal.user_id,
    )
    if status != "all":
        query = query.where(HandoffRow.status == status)
    page, next_cursor = await newest_first_page(db, query, HandoffRow, key=cursor_key, limit=limit, cursor=cursor)
    feedback = await feedback_of(db, [r.id for r in page])
    return HandoffPage(items=[handoff_out(r, feedback[r.id]) for r in page], next_cursor=next_cursor)
