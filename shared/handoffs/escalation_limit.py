"""The per-user cap on escalations, so one engineer cannot flood the seniors' inboxes.

Counted from the handoffs themselves inside the escalating transaction, so it holds across every
replica and on the embedded SQLite alike; parks are private and never count.
"""

from __future__ import annotations

import math
import uuid
import zlib
from datetime import datetime, timedelta

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import table_of
from shared.db.locks import transaction_lock
from shared.errors import RateLimited
from shared.handoffs.schemas import Intent
from shared.handoffs.tables import HandoffRow

WINDOW = timedelta(hours=1)
# Namespace of the per-user advisory locks (two-key form: apart from the one-key locks elsewhere).
_LOCK_NAMESPACE = 0x48414E44  # "HAND"


# The limit-th newest escalation in the hour: while it is inside the window the user is at the cap.
_HANDOFFS = table_of(HandoffRow).c
_LIMIT_TH_NEWEST = (
    select(_HANDOFFS.created_at)
    .where(
        _HANDOFFS.account_id == bindparam("account_id"),  # the index on (account_id, created_at) narrows it
        _HANDOFFS.created_at > bindparam("since"),
        _HANDOFFS.created_by_id == bindparam("user_id"),
        _HANDOFFS.intent == Intent.ESCALATE,
    )
    .order_by(_HANDOFFS.created_at.desc())
    .offset(bindparam("skip", type_=Integer()))
    .limit(1)
)


async def check_escalation_limit(
    db: AsyncSession, account_id: uuid.UUID, user_id: uuid.UUID, limit: int, now: datetime
) -> None:
    """Raise RateLimited when the user already escalated `limit` times in the rolling hour before `now`.

    On PostgreSQL a per-user lock until commit makes two escalations at once count one after the other
    (SQLite takes its write lock when the transaction begins).
    """
    await transaction_lock(db, _LOCK_NAMESPACE, zlib.crc32(user_id.bytes) - 2**31)  # the key in int4 range
    parameters = {"account_id": account_id, "since": now - WINDOW, "user_id": user_id, "skip": limit - 1}
    oldest_counted = await db.scalar(_LIMIT_TH_NEWEST, parameters)
    if oldest_counted is not None:
        retry_after_s = max(1, math.ceil((oldest_counted + WINDOW - now).total_seconds()))
        raise RateLimited(retry_after_s, f"{limit} escalations in the last hour is the most one engineer may make")
