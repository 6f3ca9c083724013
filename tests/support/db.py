"""Read what the service wrote, straight from the database."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from shared.bootstrap import Runtime
from shared.handoffs.tables import HandoffRow
from shared.outbox.table import OutboxRow


async def outbox_rows(runtime: Runtime, account_id: uuid.UUID | str) -> list[dict[str, Any]]:
    account = uuid.UUID(str(account_id))
    async with runtime.sessionmaker() as db:
        rows = (
            (await db.execute(select(OutboxRow).where(OutboxRow.account_id == account).order_by(OutboxRow.id)))
            .scalars()
            .all()
        )
        return [
            {"kind": r.kind, "topic": r.topic, "job_id": r.job_id, "payload": r.payload, "request_id": r.request_id}
            for r in rows
        ]


async def handoffs_of_session(runtime: Runtime, session_id: uuid.UUID | str) -> list[HandoffRow]:
    async with runtime.sessionmaker() as db:
        query = select(HandoffRow).where(HandoffRow.session_id == uuid.UUID(str(session_id)))
        return list((await db.execute(query)).scalars().all())
