"""The escalation queue: an account's escalations, newest first, in stable keyset pages."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

import msgspec
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.db.models import Handoff as HandoffRow
from shared.errors import InvalidInput
from shared.handoffs.schemas import HandoffPage, QueueStatus
from shared.handoffs.views import handoff_out
from shared.sessions.service import require_senior


class _Cursor(msgspec.Struct, array_like=True):
    created_at: datetime
    id: uuid.UUID


def encode_cursor(created_at: datetime, handoff_id: uuid.UUID) -> str:
    raw = msgspec.json.encode(_Cursor(created_at, handoff_id))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> _Cursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=_Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidInput("cursor is not one this service handed out") from exc


async def list_escalations(
    db: AsyncSession, principal: Principal, *, status: QueueStatus = "open", limit: int = 50, cursor: str | None = None
) -> HandoffPage:
    """Escalations of the caller's account that the caller did not create."""
    account_id = require_senior(principal)
    query = select(HandoffRow).where(
        HandoffRow.account_id == account_id,
        HandoffRow.intent == "escalate",
        HandoffRow.created_by_id != principal.user_id,
    )
    if status != "all":
        query = query.where(HandoffRow.status == status)
    if cursor:
        after = decode_cursor(cursor)
        query = query.where(
            or_(
                HandoffRow.created_at < after.created_at,
                and_(HandoffRow.created_at == after.created_at, HandoffRow.id < after.id),
            )
        )
    query = query.order_by(HandoffRow.created_at.desc(), HandoffRow.id.desc()).limit(limit + 1)
    rows = (await db.execute(query)).scalars().all()
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if more else None
    return HandoffPage(items=[handoff_out(r) for r in page], next_cursor=next_cursor)
