"""AI sessions: what an engineer works on with the assistant, and its message history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.clock import utcnow
from shared.db.tenancy import TenantLoader
from shared.directory.who import may_see_session, require_member, require_senior, require_session_engineer
from shared.errors import InvalidInput, SessionMessageLimit
from shared.ids import new_id
from shared.sessions.schemas import (
    MAX_CONTEXT_BYTES,
    MAX_SESSION_MESSAGES,
    Message,
    MessageIn,
    Session,
    SessionCreate,
    SessionStatus,
)
from shared.sessions.tables import AISession, SessionMessage
from shared.sessions.views import message_out, session_out


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


async def message_counts(db: AsyncSession, session_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Messages per session, for these sessions only: one grouped query over an indexed column."""
    if not session_ids:
        return {}
    counted = (
        select(SessionMessage.session_id, func.count())
        .where(SessionMessage.session_id.in_(session_ids))
        .group_by(SessionMessage.session_id)
    )
    return {sid: int(n) for sid, n in (await db.execute(counted)).all()}
