"""Claim: exactly one senior wins an escalation, however many click at once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from shared.auth.principal import Principal
from shared.chat.jobs import CLAIMED_ROUND, add_chat_job
from shared.clock import utcnow
from shared.db.uow import before_transaction
from shared.directory.who import require_may_claim, require_senior
from shared.errors import HandoffNotClaimable
from shared.handoffs.events import announce
from shared.handoffs.schemas import ClaimVia, Handoff, HandoffStatus, Intent
from shared.handoffs.service import advance_open_handoff, load_handoff, raise_if_claimed, reactivate_session
from shared.handoffs.settings import claim_settings
from shared.handoffs.tables import HandoffRow
from shared.handoffs.views import handoff_out
from shared.policy.timers import REMINDER, STEP, cancel_timers, schedule_stale_claim

# The escalations a claim in this process is deciding, each with what is set when that claim's transaction ends.
_deciding: dict[uuid.UUID, asyncio.Event] = {}
# How long a claimer waits on another claim of the same escalation in this process before it tries on its own.
WAIT_FOR_DECIDING_S = 5.0


async def claim_handoff(
    db: AsyncSession, principal: Principal, handoff_id: uuid.UUID, *, via: ClaimVia = "api"
) -> Handoff:
    """Claim an open escalation; `via` says how (the timeline shows it).

    The winner is decided by one conditional UPDATE (`WHERE status = 'open'`): concurrent
    claimers queue on the row lock and every one after the first matches nothing. What the winner writes
    after it is read before the first lock is taken, so the locks are held for writes only.

    In one process, one claim of an escalation at a time goes to the database to decide it: a claimer that reads it
    open while another here is deciding it waits for that one's transaction to end and reads it again, rather than
    queue on its locks for an UPDATE that will match nothing. The database still decides; the wait only saves work.
    """
    require_senior(principal)
    handoff = await _load(db, principal, handoff_id)
    require_may_claim(principal, handoff, park=handoff.intent == Intent.PARK)
    deciding = _deciding.get(handoff.id) if handoff.status == HandoffStatus.OPEN else None
    if deciding is not None:
        # Should that claim be slow to end, this one goes on after a while as if it had not waited.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(deciding.wait(), WAIT_FOR_DECIDING_S)
        handoff = await _load(db, principal, handoff_id)
    if handoff.status != HandoffStatus.OPEN:
        return await _lost(db, handoff, principal)  # decided already: no lock to wait for, nothing to write
    if handoff.id not in _deciding:
        _decide_in_this_transaction(db, handoff.id)

    settings = await claim_settings(db, handoff.account_id, handoff.session_id)
    await cancel_timers(db, handoff.id, REMINDER, STEP)  # timers before the handoff: see timers.py; undone if we lose
    won = await advance_open_handoff(
        db,
        handoff,
        {
            "status": HandoffStatus.CLAIMED,
            "claimed_by_id": principal.user_id,
            "claimed_by_name": principal.name,
            "claimed_at": utcnow(),
            "claimed_via": via,
        },
    )
    if not won:
        return await _lost(db, handoff, principal)

    await reactivate_session(db, handoff, engineer_id=principal.user_id)
    schedule_stale_claim(db, handoff, settings.policy, settings.newest_message_id)
    announce(db, handoff, "handoff_claimed")
    if settings.chat_destinations:
        add_chat_job(db, account_id=handoff.account_id, handoff_id=handoff.id, round=CLAIMED_ROUND)
    await db.flush()
    # No assessment feedback to read: only a handoff's claimer gives it, and this one was open, never claimed before.
    return handoff_out(handoff)


async def _load(db: AsyncSession, principal: Principal, handoff_id: uuid.UUID) -> HandoffRow:
    """The escalation as it is now; most claimers of a race stop at this read, so it sends no BEGIN (nor ROLLBACK).

    Light: what decides a claim, without the snapshot and the other documents, which only an answer with the whole
    escalation reads (the winner's comes back from its UPDATE ... RETURNING)."""
    async with before_transaction(db):
        return await load_handoff(db, principal, handoff_id, light=True)


def _decide_in_this_transaction(db: AsyncSession, handoff_id: uuid.UUID) -> None:
    """Mark the escalation as being decided here until this session's transaction ends (commit, rollback, close)."""
    ended = asyncio.Event()
    _deciding[handoff_id] = ended

    def end(_session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is not None or ended.is_set():
            return  # a flush's own span or a savepoint (the transaction goes on), or a later transaction of the session
        if _deciding.get(handoff_id) is ended:
            del _deciding[handoff_id]
        ended.set()

    event.listen(db.sync_session, "after_transaction_end", end)


async def _lost(db: AsyncSession, handoff: HandoffRow, principal: Principal) -> Handoff:
    """Someone moved the escalation first: the caller's own earlier claim stands, anything else is a 409."""
    if handoff.status == HandoffStatus.CLAIMED and handoff.claimed_by_id == principal.user_id:
        await db.refresh(handoff, load_handoff.heavy)  # the answer is the whole escalation
        return handoff_out(handoff)
    raise_if_claimed(handoff)
    raise HandoffNotClaimable(f"the escalation is {handoff.status}")
