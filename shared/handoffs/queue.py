"""The escalation queue: an account's escalations, newest first, in stable keyset pages bounded in bytes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from shared.auth.principal import Principal
from shared.directory.who import require_senior
from shared.handoffs.schemas import CARD_SNAPSHOT_FIELDS, Handoff, HandoffFields, HandoffPage, Intent, QueueStatus
from shared.handoffs.service import feedback_of
from shared.handoffs.tables import HandoffRow
from shared.handoffs.views import handoff_out
from shared.pagination import Positioned, newest_first_page

# A card's snapshot fields, read out of the stored document by the database: the messages, steps and
# context never leave it.
_CARD_SNAPSHOT_COLUMNS = tuple(HandoffRow.snapshot[name].label(f"snapshot_{name}") for name in CARD_SNAPSHOT_FIELDS)


async def list_escalations(
    db: AsyncSession,
    principal: Principal,
    *,
    cursor_key: bytes,
    max_bytes: int,
    status: QueueStatus = "open",
    fields: HandoffFields | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> HandoffPage:
    """Escalations of the caller's account that the caller did not create; `fields="card"` leaves out the
    snapshot's messages, steps and context."""
    account_id = require_senior(principal)
    query: Select[Any] = select(HandoffRow).where(
        HandoffRow.account_id == account_id,
        HandoffRow.intent == Intent.ESCALATE,
        HandoffRow.created_by_id != principal.user_id,
    )
    if status != "all":
        query = query.where(HandoffRow.status == status)
    if fields == "card":
        query = query.options(defer(HandoffRow.snapshot, raiseload=True)).add_columns(*_CARD_SNAPSHOT_COLUMNS)

    async def render(rows: Sequence[Row[Any]]) -> list[Positioned[Handoff]]:
        feedback = await feedback_of(db, [row[0].id for row in rows])
        rendered = []
        for row in rows:
            cells: tuple[Any, ...] = tuple(row)
            handoff: HandoffRow = cells[0]
            snapshot = dict(zip(CARD_SNAPSHOT_FIELDS, cells[1:], strict=True)) if fields == "card" else None
            item = handoff_out(handoff, feedback[handoff.id], snapshot=snapshot)
            rendered.append(Positioned(item, handoff.created_at, handoff.id))
        return rendered

    items, next_cursor = await newest_first_page(
        db,
        query,
        at=HandoffRow.created_at,
        row_id=HandoffRow.id,
        render=render,
        key=cursor_key,
        limit=limit,
        max_bytes=max_bytes,
        cursor=cursor,
    )
    return HandoffPage(items=items, next_cursor=next_cursor)
