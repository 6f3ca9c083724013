"""The escalation queue: an account's escalations, newest first, in stable keyset pages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.policy import require_senior
from shared.auth.principal import Principal
from shared.db.models import HandoffRow
from shared.handoffs.schemas import HandoffPage, Intent, QueueStatus
from shared.handoffs.views import handoff_out
from shared.pagination import encode_cursor, older_than


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
    if cursor:
        query = query.where(older_than(cursor_key, HandoffRow.created_at, HandoffRow.id, cursor))
    query = query.order_by(HandoffRow.created_at.desc(), HandoffRow.id.desc()).limit(limit + 1)
    rows = (await db.execute(query)).scalars().all()
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(cursor_key, page[-1].created_at, page[-1].id) if more else None
    return HandoffPage(items=[handoff_out(r) for r in page], next_cursor=next_cursor)
