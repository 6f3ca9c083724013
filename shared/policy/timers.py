"""Durable timers: reminders, later escalation steps and nudges of stale claims, kept as rows with a `due_at`.

This module sets and cancels them; the escalations' `firing` fires them.

Whichever worker locks a due row first fires it (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite
`BEGIN IMMEDIATE` lets one writer in at a time), and the firing (event, delivery rows, notify job, the
next round's row) commits with the row's `fired_at`, so a timer fires once and survives any restart.

Lock order is timers, then the handoff: a claim or withdrawal cancels the timers before it moves the
handoff, so it never waits on a firing that waits on it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.db.base import table_of
from shared.policy.schemas import EscalationPolicy
from shared.policy.tables import HandoffTimer
from shared.sessions.tables import SessionMessage

REMINDER = "reminder"
CLAIM_STALE = "claim_stale"
STEP = "step"  # a later escalation step; its `round` is the step's index
# The delivery round of the email to a claimer who went quiet; reminders are rounds 1..10.
STALE_CLAIM_ROUND = 100


class TimedHandoff(Protocol):
    """What the timers read of a handoff (its row, say): the policy sits under the handoffs it times."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def account_id(self) -> uuid.UUID: ...
    @property
    def session_id(self) -> uuid.UUID: ...
    @property
    def urgency(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def claimed_at(self) -> datetime | None: ...


def pending_timer() -> ColumnElement[bool]:
    """Neither fired nor cancelled."""
    return and_(HandoffTimer.fired_at.is_(None), HandoffTimer.cancelled_at.is_(None))


def add_timer(
    db: AsyncSession, handoff: TimedHandoff, kind: str, round: int, due_at: datetime, last_message_id: int | None = None
) -> None:
    """A pending timer of `handoff`, written with the caller's transaction."""
    db.add(
        HandoffTimer(
            handoff_id=handoff.id,
            account_id=handoff.account_id,
            kind=kind,
            round=round,
            due_at=due_at,
            last_message_id=last_message_id,
        )
    )


def schedule_first_reminder(db: AsyncSession, handoff: TimedHandoff, policy: EscalationPolicy) -> None:
    """Round 1 of an escalation's reminders, unless the policy has them off."""
    interval = policy.reminder_interval_s(handoff.urgency)
    if interval <= 0 or policy.max_reminders <= 0:
        return
    add_timer(db, handoff, REMINDER, 1, handoff.created_at + timedelta(seconds=interval))


_TIMERS = table_of(HandoffTimer).c
# Plain Core (the table's columns): a claim, withdrawal or resume runs it, and no timer object is ever loaded.
_CANCEL = (
    update(table_of(HandoffTimer))
    .where(
        _TIMERS.handoff_id == bindparam("of_handoff"),
        _TIMERS.kind.in_(bindparam("kinds", expanding=True)),
        _TIMERS.fired_at.is_(None),
        _TIMERS.cancelled_at.is_(None),
    )
    .values(cancelled_at=bindparam("now"))
)


async def cancel_timers(db: AsyncSession, handoff_id: uuid.UUID, *kinds: str) -> None:
    """Pending timers of these kinds will not fire (a claim, withdrawal or resume)."""
    await db.execute(_CANCEL, {"of_handoff": handoff_id, "kinds": list(kinds), "now": utcnow()})


async def newest_message(db: AsyncSession, session_id: uuid.UUID) -> tuple[int | None, datetime | None]:
    row = (
        await db.execute(
            select(SessionMessage.id, SessionMessage.at)
            .where(SessionMessage.session_id == session_id)
            .order_by(SessionMessage.id.desc())
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else (None, None)


def schedule_stale_claim(
    db: AsyncSession, handoff: TimedHandoff, policy: EscalationPolicy, newest_message_id: int | None
) -> None:
    """The check that the claimer is still working on it, `stale_claim_s` after the claim; `newest_message_id` is
    the session's newest message when it was claimed."""
    if policy.stale_claim_s <= 0 or handoff.claimed_at is None:
        return
    due = handoff.claimed_at + timedelta(seconds=policy.stale_claim_s)
    add_timer(db, handoff, CLAIM_STALE, 0, due, newest_message_id)
