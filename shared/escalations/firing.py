"""Firing due timers: one reminder round, one escalation step, or one stale-claim nudge, per due row, exactly once.

See `timers` for why the rows are locked before their handoff.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.channels import EMAIL
from shared.chat.jobs import add_chat_job
from shared.clock import utcnow
from shared.deliveries.service import ensure_chat_round, ensure_deliveries, notify_job_id
from shared.directory.tables import User
from shared.directory.who import may_be_nudged, seniors_to_page
from shared.escalations.paging import paged_ids, run_steps
from shared.handoffs.events import announce
from shared.handoffs.schemas import HandoffStatus, Intent
from shared.handoffs.tables import HandoffRow
from shared.outbox.writer import add_job
from shared.policy.schemas import EscalationPolicy
from shared.policy.service import policy_of
from shared.policy.tables import HandoffTimer
from shared.policy.timers import REMINDER, STALE_CLAIM_ROUND, STEP, add_timer, newest_message, pending_timer


@dataclass(frozen=True)
class FiredTimer:
    handoff_id: uuid.UUID
    kind: str
    round: int


async def fire_due_timers(db: AsyncSession, *, limit: int = 20) -> list[FiredTimer]:
    """Fire up to `limit` due timers in the caller's transaction; what fired."""
    now = utcnow()
    query = select(HandoffTimer).where(pending_timer(), HandoffTimer.due_at <= now).order_by(HandoffTimer.due_at)
    query = query.limit(limit)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    timers = (await db.execute(query)).scalars().all()
    fired: list[FiredTimer] = []
    for timer in timers:
        handoff = await db.get(HandoffRow, timer.handoff_id, with_for_update=True, populate_existing=True)
        if handoff is None or handoff.intent != Intent.ESCALATE:
            timer.cancelled_at = now
            continue
        policy = await policy_of(db, handoff.account_id)
        if timer.kind == REMINDER:
            done = await _fire_reminder(db, timer, handoff, policy, now)
        elif timer.kind == STEP:
            done = await _fire_step(db, timer, handoff, policy, now)
        else:
            done = await _fire_stale_claim(db, timer, handoff, policy, now)
        if done:
            fired.append(FiredTimer(handoff.id, timer.kind, timer.round))
    await db.flush()
    return fired


async def _fire_reminder(
    db: AsyncSession, timer: HandoffTimer, handoff: HandoffRow, policy: EscalationPolicy, now: datetime
) -> bool:
    interval = policy.reminder_interval_s(handoff.urgency)
    if handoff.status != HandoffStatus.OPEN or interval <= 0 or timer.round > policy.max_reminders:
        timer.cancelled_at = now  # claimed meanwhile, or the policy in force now says no more
        return False
    timer.fired_at = now
    handoff.reminders_sent = max(handoff.reminders_sent, timer.round)
    seniors = await seniors_to_page(db, handoff.account_id, handoff.created_by_id)
    if handoff.paging:  # only those paged so far (none of them has claimed: it is still open)
        paged = paged_ids(handoff)
        seniors = [user for user in seniors if user.id in paged]
    await _notify(db, handoff, [(user.email, user.id) for user in seniors], timer.round)
    # The chat destinations that got the escalation's own post get the reminder too.
    if await ensure_chat_round(db, handoff_id=handoff.id, account_id=handoff.account_id, round=timer.round):
        add_chat_job(db, account_id=handoff.account_id, handoff_id=handoff.id, round=timer.round)
    announce(db, handoff, "handoff_reminder", round=timer.round)
    if timer.round < policy.max_reminders:
        add_timer(db, handoff, REMINDER, timer.round + 1, now + timedelta(seconds=interval))
    return True


async def _fire_step(
    db: AsyncSession, timer: HandoffTimer, handoff: HandoffRow, policy: EscalationPolicy, now: datetime
) -> bool:
    if handoff.status != HandoffStatus.OPEN:
        timer.cancelled_at = now  # claimed or withdrawn meanwhile
        return False
    timer.fired_at = now
    await run_steps(db, handoff, policy, timer.round, now)
    return True


async def _fire_stale_claim(
    db: AsyncSession, timer: HandoffTimer, handoff: HandoffRow, policy: EscalationPolicy, now: datetime
) -> bool:
    if handoff.status != HandoffStatus.CLAIMED or handoff.claimed_by_id is None or policy.stale_claim_s <= 0:
        timer.cancelled_at = now
        return False
    newest_id, newest_at = await newest_message(db, handoff.session_id)
    if newest_id is not None and newest_id != timer.last_message_id:
        # The claimer wrote since the timer was set: the quiet spell starts at that message.
        started = min(max(newest_at or now, handoff.claimed_at or now), now)
        timer.last_message_id = newest_id
        due = started + timedelta(seconds=policy.stale_claim_s)
        if due > now:
            timer.due_at = due
            return False
    timer.fired_at = now
    claimer = await db.get(User, handoff.claimed_by_id)
    recipients = [(claimer.email, claimer.id)] if claimer is not None and may_be_nudged(claimer) else []
    await _notify(db, handoff, recipients, STALE_CLAIM_ROUND)
    announce(db, handoff, "handoff_claim_stale")
    return True


async def _notify(
    db: AsyncSession, handoff: HandoffRow, recipients: Sequence[tuple[str, uuid.UUID | None]], round: int
) -> None:
    """The round's email rows, and the job that sends them; both commit with the firing."""
    await ensure_deliveries(
        db,
        handoff_id=handoff.id,
        account_id=handoff.account_id,
        channel=EMAIL.name,
        recipients=recipients,
        round=round,
    )
    if recipients:
        add_job(
            db,
            account_id=handoff.account_id,
            name="notify",
            job_id=notify_job_id(handoff.id, round),
            payload={"handoff_id": str(handoff.id), "account_id": str(handoff.account_id), "round": round},
        )
