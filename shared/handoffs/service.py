"""Handoffs: escalate or park a session, read one, resume a park, withdraw an escalation."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
from sqlalchemy import Row, Select, and_, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.channels import channel_jobs, channels_sent_by
from shared.chat.jobs import WITHDRAWN_ROUND, queue_chat_posts
from shared.clock import rfc3339, utcnow
from shared.db.base import table_of
from shared.db.tenancy import TenantLoader
from shared.directory.who import may_see_handoff, require_escalator, require_may_hand_off, require_member
from shared.errors import HandoffActionNotAllowed, HandoffAlreadyClaimed, NotFound, SessionNotActive
from shared.handoffs.escalation_limit import check_escalation_limit
from shared.handoffs.events import announce
from shared.handoffs.schemas import AssessmentStatus, Handoff, HandoffCreate, HandoffStatus, Intent
from shared.handoffs.settings import EscalationSettings, escalation_settings
from shared.handoffs.tables import AssessmentFeedbackRow, HandoffRow
from shared.handoffs.views import escalation_package, handoff_out
from shared.ids import new_id
from shared.outbox.writer import add_job
from shared.policy.timers import CLAIM_STALE, REMINDER, STEP, cancel_timers, schedule_first_reminder
from shared.sessions.schemas import Message, SessionStatus
from shared.sessions.service import load_session
from shared.sessions.tables import AISession, SessionMessage

SNAPSHOT_MESSAGES = 50
SNAPSHOT_STEPS = 50  # the last ones; `steps_tried_count` says how many there were

# Pages the first step of a new escalation in its transaction, with the settings the escalation read
# (`shared.escalations.paging.page_first_step`): it reads before it writes, and the escalation flushes once.
FirstStep = Callable[[AsyncSession, HandoffRow, EscalationSettings], Awaitable[None]]


def _snapshot_statement() -> Select[Any]:
    """The snapshot's messages in one statement: the newest SNAPSHOT_MESSAGES, the newest SNAPSHOT_STEPS steps
    (older ones too, when the newest messages do not reach back to them), and the session's counts of both,
    on every row. Window functions count the whole session before the rows are picked; newest first."""
    messages = table_of(SessionMessage).c
    is_step = messages.kind == "step"
    newest_first = messages.id.desc()
    numbered = (
        select(
            messages.id,
            messages.role,
            messages.content,
            messages.kind,
            messages.step_status,
            messages.at,
            func.row_number().over(order_by=newest_first).label("nth"),
            func.row_number().over(partition_by=is_step, order_by=newest_first).label("nth_of_kind"),
            func.count().over().label("message_count"),
            func.sum(case((is_step, 1), else_=0)).over().label("steps_count"),
        )
        .where(messages.session_id == bindparam("session_id"))
        .subquery("numbered")
    )
    return (
        select(numbered)
        .where(
            or_(
                numbered.c.nth <= SNAPSHOT_MESSAGES,
                and_(numbered.c.kind == "step", numbered.c.nth_of_kind <= SNAPSHOT_STEPS),
            )
        )
        .order_by(numbered.c.id.desc())
    )


_SNAPSHOT = _snapshot_statement()


def _message(row: Row[Any]) -> Message:
    return Message(role=row.role, content=row.content, kind=row.kind, step_status=row.step_status, at=rfc3339(row.at))


async def _snapshot(db: AsyncSession, session: AISession) -> dict[str, Any]:
    """The session as the seniors will see it, read in one statement."""
    rows = (await db.execute(_SNAPSHOT, {"session_id": session.id})).all()
    last = [_message(row) for row in rows if row.nth <= SNAPSHOT_MESSAGES]
    steps = [_message(row) for row in rows if row.kind == "step"]
    return {
        "title": session.title,
        "ticket_ref": session.ticket_ref,
        "context": session.context,
        "messages": msgspec.to_builtins(last[::-1]),
        "steps_tried": msgspec.to_builtins(steps[::-1]),
        "steps_tried_count": int(rows[0].steps_count) if rows else 0,
        "message_count": int(rows[0].message_count) if rows else 0,
    }


async def create_handoff(
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    body: HandoffCreate,
    *,
    escalations_per_hour: int | None = None,
    first_step: FirstStep | None = None,
) -> Handoff:
    """Escalate or park an active session, in one transaction with its outbox rows.

    With `escalations_per_hour` an escalation beyond that many of the caller's in the rolling hour is
    refused (RateLimited); parks are not counted. `first_step` pages an escalation's first step in the same
    transaction. Everything is read before anything is written, and written in one flush: one INSERT per table.
    """
    session = await load_session(db, principal, session_id, for_update=True)
    require_may_hand_off(principal, session.engineer_id, park=body.intent == Intent.PARK)
    if session.status != SessionStatus.ACTIVE:
        raise SessionNotActive(session.status)

    now = utcnow()
    escalating = body.intent == Intent.ESCALATE
    if escalating and escalations_per_hour is not None:
        await check_escalation_limit(db, session.account_id, principal.user_id, escalations_per_hour, now)
    snapshot = await _snapshot(db, session)
    settings = await escalation_settings(db, session.account_id) if escalating else None
    handoff = HandoffRow(
        id=new_id(),  # assigned here so the package and the outbox rows can carry it before the flush
        account_id=session.account_id,
        session_id=session.id,
        intent=body.intent,
        status=HandoffStatus.OPEN,
        note=body.note,
        urgency=body.urgency,
        created_by_id=principal.user_id,
        created_by_name=principal.name,
        created_at=now,
        claimed_by_id=None,
        claimed_by_name=None,
        claimed_at=None,
        claimed_via=None,
        closed_at=None,
        snapshot=snapshot,
        assessment_status=AssessmentStatus.PENDING if escalating else AssessmentStatus.NOT_REQUESTED,
        ai_assessment_data=None,
        reminders_sent=0,
        paging=[],
    )
    db.add(handoff)
    session.status = SessionStatus.ESCALATED if escalating else SessionStatus.PARKED
    session.escalation_package = escalation_package(handoff)
    session.updated_at = now
    if settings is not None:
        announce(db, handoff, "handoff_created")
        schedule_first_reminder(db, handoff, settings.policy)
        # The jobs an escalation starts once it has committed (every channel's, the chat posts' only when the account
        # has a destination to post to); ids make a re-sent job a no-op.
        jobs = list(channel_jobs())
        if not settings.chat_destinations:
            jobs = [job for job in jobs if not all(c.per_destination for c in channels_sent_by(job))]
        for job in ("assess", *jobs):
            add_job(
                db,
                account_id=handoff.account_id,
                name=job,
                job_id=f"{job}:{handoff.id}",
                payload={"handoff_id": str(handoff.id), "account_id": str(handoff.account_id)},
            )
        if first_step is not None:
            await first_step(db, handoff, settings)
    await db.flush()
    return handoff_out(handoff)


# The handoff if the caller may see it (see `who.may_see_handoff`).
load_handoff = TenantLoader(
    HandoffRow,
    "handoff",
    account_of=require_member,
    visible=lambda principal, row: may_see_handoff(principal, row, park=row.intent == Intent.PARK),
    heavy=(HandoffRow.snapshot, HandoffRow.ai_assessment_data, HandoffRow.paging),
)


async def feedback_of(
    db: AsyncSession, handoff_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[AssessmentFeedbackRow]]:
    """The assessment feedback of these handoffs, oldest first per handoff."""
    found: dict[uuid.UUID, list[AssessmentFeedbackRow]] = {h: [] for h in handoff_ids}
    if handoff_ids:
        query = (
            select(AssessmentFeedbackRow)
            .where(AssessmentFeedbackRow.handoff_id.in_(handoff_ids))
            .order_by(AssessmentFeedbackRow.at, AssessmentFeedbackRow.id)
        )
        for row in (await db.execute(query)).scalars().all():
            found[row.handoff_id].append(row)
    return found


async def handoff_with_feedback(db: AsyncSession, row: HandoffRow) -> Handoff:
    return handoff_out(row, (await feedback_of(db, [row.id]))[row.id])


async def get_handoff(db: AsyncSession, principal: Principal, handoff_id: uuid.UUID) -> Handoff:
    return await handoff_with_feedback(db, await load_handoff(db, principal, handoff_id))


async def advance_open_handoff(db: AsyncSession, handoff: HandoffRow, values: dict[str, Any]) -> bool:
    """Move an open handoff on, as one conditional UPDATE; False when someone else moved it first.

    Either way `handoff` is the row as it is now: the mover's comes back from its UPDATE ... RETURNING, and
    whoever lost reads it again (to name who moved it first).
    """
    moved = await db.execute(
        update(HandoffRow)
        .where(HandoffRow.id == handoff.id, HandoffRow.status == HandoffStatus.OPEN)
        .values(**values)
        .returning(HandoffRow),
        execution_options={"populate_existing": True, "synchronize_session": False},
    )
    if moved.scalar_one_or_none() is None:
        await db.refresh(handoff)
        return False
    return True


def raise_if_claimed(handoff: HandoffRow) -> None:
    """The error a caller gets when someone else claimed the escalation first."""
    if handoff.status == HandoffStatus.CLAIMED and handoff.claimed_by_id and handoff.claimed_at:
        raise HandoffAlreadyClaimed(handoff.claimed_by_id, handoff.claimed_by_name or "", handoff.claimed_at)


_SESSIONS = table_of(AISession)
# The values travel as parameters: the statement is built once, without an engineer or with one.
_REACTIVATE = update(_SESSIONS).where(_SESSIONS.c.id == bindparam("of_session"))


async def reactivate_session(db: AsyncSession, handoff: HandoffRow, engineer_id: uuid.UUID | None = None) -> None:
    """The handoff is over: its session is active again, with a new engineer when one claimed it (one UPDATE)."""
    values: dict[str, Any] = {
        "status": SessionStatus.ACTIVE,
        "escalation_package": escalation_package(handoff),
        "updated_at": utcnow(),
    }
    if engineer_id is not None:
        values["engineer_id"] = engineer_id
    result = await db.execute(_REACTIVATE, {"of_session": handoff.session_id, **values})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound("session")


async def resume_handoff(db: AsyncSession, principal: Principal, handoff_id: uuid.UUID) -> Handoff:
    """The engineer takes a parked session back; resuming twice is harmless."""
    handoff = await load_handoff(db, principal, handoff_id)
    if handoff.intent != Intent.PARK:
        raise HandoffActionNotAllowed("only a park can be resumed; withdraw an escalation instead")
    if handoff.status == HandoffStatus.RESUMED:
        return handoff_out(handoff)
    now = utcnow()
    await cancel_timers(db, handoff.id, REMINDER, CLAIM_STALE)
    if not await advance_open_handoff(db, handoff, {"status": HandoffStatus.RESUMED, "closed_at": now}):
        raise HandoffActionNotAllowed(f"the park is {handoff.status}")
    await reactivate_session(db, handoff)
    return handoff_out(handoff)


async def withdraw_handoff(db: AsyncSession, principal: Principal, handoff_id: uuid.UUID) -> Handoff:
    """The escalator takes an unclaimed escalation back; withdrawing twice is harmless."""
    handoff = await load_handoff(db, principal, handoff_id)
    if handoff.intent != Intent.ESCALATE:
        raise HandoffActionNotAllowed("only an escalation can be withdrawn; resume a park instead")
    require_escalator(principal, handoff.created_by_id)
    if handoff.status == HandoffStatus.WITHDRAWN:
        return handoff_out(handoff)
    await cancel_timers(db, handoff.id, REMINDER, STEP, CLAIM_STALE)  # timers before the handoff: see timers.py
    if not await advance_open_handoff(db, handoff, {"status": HandoffStatus.WITHDRAWN, "closed_at": utcnow()}):
        raise_if_claimed(handoff)
        raise HandoffActionNotAllowed(f"the escalation is {handoff.status}")
    await reactivate_session(db, handoff)
    announce(db, handoff, "handoff_withdrawn")
    await queue_chat_posts(db, account_id=handoff.account_id, handoff_id=handoff.id, round=WITHDRAWN_ROUND)
    return handoff_out(handoff)
