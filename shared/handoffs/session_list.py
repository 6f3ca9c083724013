"""The caller's list of sessions: their own, or those they escalated that another engineer now holds.

It sits above the handoffs, not among the sessions, because "handed off" is a question about handoffs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, load_only

from shared.auth.principal import Principal
from shared.directory.who import require_member
from shared.handoffs.schemas import HandoffStatus, Intent
from shared.handoffs.tables import HandoffRow
from shared.pagination import Positioned, newest_first_page
from shared.sessions.schemas import SessionFilter, SessionPage, SessionSummary
from shared.sessions.service import message_counts
from shared.sessions.tables import AISession
from shared.sessions.views import PACKAGE_SUMMARY_FIELDS, package_summary, session_summary_out

# A list line's columns: the session's context and full escalation package (the latest handoff's whole
# snapshot) stay in the database; the package's summary fields are read out of it there.
_SUMMARY_COLUMNS = (
    AISession.id,
    AISession.account_id,
    AISession.title,
    AISession.ticket_ref,
    AISession.status,
    AISession.engineer_id,
    AISession.created_at,
    AISession.updated_at,
)
_PACKAGE_COLUMNS = tuple(AISession.escalation_package[name].label(f"package_{name}") for name in PACKAGE_SUMMARY_FIELDS)


async def list_my_sessions(
    db: AsyncSession,
    principal: Principal,
    *,
    cursor_key: bytes,
    max_bytes: int,
    status: SessionFilter = "all",
    limit: int = 50,
    cursor: str | None = None,
) -> SessionPage:
    """The caller's own sessions (those they are the engineer of), newest first; with `handed_off`, the
    sessions the caller escalated that another engineer now holds, newest hand-off first."""
    account_id = require_member(principal)
    query: Select[Any] = (
        select(AISession)
        .options(load_only(*_SUMMARY_COLUMNS, raiseload=True))
        .add_columns(*_PACKAGE_COLUMNS)
        .where(AISession.account_id == account_id)
    )
    at: Any = AISession.created_at
    row_id: Any = AISession.id
    if status == "handed_off":
        query = _handed_off(query, account_id, principal.user_id).add_columns(HandoffRow.claimed_at, HandoffRow.id)
        at, row_id = HandoffRow.claimed_at, HandoffRow.id
    else:
        query = query.where(AISession.engineer_id == principal.user_id)
        if status != "all":
            query = query.where(AISession.status == status)

    async def render(rows: Sequence[Row[Any]]) -> list[Positioned[SessionSummary]]:
        counts = await message_counts(db, [row[0].id for row in rows])
        rendered = []
        for row in rows:
            cells: tuple[Any, ...] = tuple(row)
            session: AISession = cells[0]
            package = package_summary(cells[1 : 1 + len(PACKAGE_SUMMARY_FIELDS)])
            item = session_summary_out(session, counts.get(session.id, 0), package)
            if status == "handed_off":
                rendered.append(Positioned(item, cells[-2], cells[-1]))
            else:
                rendered.append(Positioned(item, session.created_at, session.id))
        return rendered

    items, next_cursor = await newest_first_page(
        db,
        query,
        at=at,
        row_id=row_id,
        render=render,
        key=cursor_key,
        limit=limit,
        max_bytes=max_bytes,
        cursor=cursor,
    )
    return SessionPage(items=items, next_cursor=next_cursor)


def _handed_off(query: Select[Any], account_id: uuid.UUID, escalator_id: uuid.UUID) -> Select[Any]:
    """Sessions whose latest handoff is an escalation by `escalator_id` that someone else claimed."""
    later = aliased(HandoffRow)
    superseded = (
        select(later.id)
        .where(later.session_id == HandoffRow.session_id, later.created_at > HandoffRow.created_at)
        .exists()
    )
    return query.join(HandoffRow, HandoffRow.session_id == AISession.id).where(
        AISession.engineer_id != escalator_id,
        HandoffRow.account_id == account_id,
        HandoffRow.intent == Intent.ESCALATE,
        HandoffRow.created_by_id == escalator_id,
        HandoffRow.status == HandoffStatus.CLAIMED,
        HandoffRow.claimed_by_id != escalator_id,
        ~superseded,
    )
