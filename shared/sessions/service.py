"""AI sessions: what an engineer works on with the assistant, and its message history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, load_only

from shared.auth.principal import Principal
from shared.clock import utcnow
from shared.db.tenancy import TenantLoader
from shared.directory.who import may_see_session, require_member, require_senior, require_session_engineer
from shared.errors import InvalidInput, SessionMessageLimit
from shared.handoffs.schemas import HandoffStatus, Intent
from shared.handoffs.tables import HandoffRow
from shared.ids import new_id
from shared.pagination import Positioned, newest_first_page
from shared.sessions.schemas import (
    MAX_CONTEXT_BYTES,
    MAX_SESSION_MESSAGES,
    Message,
    MessageIn,
    Session,
    SessionCreate,
    SessionFilter,
    SessionPage,
    SessionStatus,
    SessionSummary,
)
from shared.sessions.tables import AISession, SessionMessage
from shared.sessions.views import PACKAGE_SUMMARY_FIELDS, message_out, package_summary, session_out, session_summary_out


def _message_row(session_id: uuid.UUID, body: MessageIn) -> SessionMessage:
    return SessionMessage(
        session_id=session_id,
        role=body.role,
        content=body.content,
        kind=body.kind,
        step_status=body.step_status,
        at=body.at or utcnow(),
    )


# The session if the caller may see it (see `who.may_see_session`).
load_session = TenantLoader(
    AISession,
    "session",
    account_of=require_member,
    visible=lambda principal, row: may_see_session(principal, row, parked=row.status == SessionStatus.PARKED),
)


async def session_messages(db: AsyncSession, session_id: uuid.UUID) -> Sequence[SessionMessage]:
    query = select(SessionMessage).where(SessionMessage.session_id == session_id).order_by(SessionMessage.id)
    return (await db.execute(query)).scalars().all()


async def count_messages(db: AsyncSession, session_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(SessionMessage).where(SessionMessage.session_id == session_id)
    return int((await db.execute(query)).scalar_one())


async def create_session(db: AsyncSession, principal: Principal, body: SessionCreate) -> Session:
    """A new active session owned by the caller."""
    account_id = require_senior(principal)
    context = body.context or {}
    if len(msgspec.json.encode(context)) > MAX_CONTEXT_BYTES:
        raise InvalidInput(f"context is larger than {MAX_CONTEXT_BYTES} bytes")
    now = utcnow()
    row = AISession(
        id=new_id(),
        account_id=account_id,
        title=body.title,
        ticket_ref=body.ticket_ref,
        status=SessionStatus.ACTIVE,
        engineer_id=principal.user_id,
        context=context,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    await db.flush()
    messages = [_message_row(row.id, m) for m in body.messages or []]
    db.add_all(messages)
    await db.flush()
    return session_out(row, messages)


async def add_message(db: AsyncSession, principal: Principal, session_id: uuid.UUID, body: MessageIn) -> Message:
    """Append to the session; only its current engineer writes to it, and a session holds a bounded history."""
    # Locked, so two appends racing for the last free place cannot both take it.
    row = await load_session(db, principal, session_id, for_update=True)
    require_session_engineer(principal, row.engineer_id)
    if await count_messages(db, row.id) >= MAX_SESSION_MESSAGES:
        raise SessionMessageLimit(MAX_SESSION_MESSAGES)
    message = _message_row(row.id, body)
    db.add(message)
    row.updated_at = utcnow()
    await db.flush()
    return message_out(message)


async def get_session(db: AsyncSession, principal: Principal, session_id: uuid.UUID) -> Session:
    row = await load_session(db, principal, session_id)
    return session_out(row, await session_messages(db, row.id))


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
        counts = await _message_counts(db, [row[0].id for row in rows])
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


async def _message_counts(db: AsyncSession, session_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Messages per session, for these sessions only: one grouped query over an indexed column."""
    if not session_ids:
        return {}
    counted = (
        select(SessionMessage.session_id, func.count())
        .where(SessionMessage.session_id.in_(session_ids))
        .group_by(SessionMessage.session_id)
    )
    return {sid: int(n) for sid, n in (await db.execute(counted)).all()}
