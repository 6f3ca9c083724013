"""Claim: exactly one senior wins an escalation, however many click at once."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

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


async def claim_handoff(
    db: AsyncSession, principal: Principal, handoff_id: uuid.UUID, *, via: ClaimVia = "api"
) -> Handoff:
    """Claim an open escalation; `via` says how (the timeline shows it).

    The winner is decided by one conditional UPDATE (`WHERE status = 'open'`): concurrent
    claimers queue on the row lock and every one after the first matches nothing. What the winner writes
    after it is read before the first lock is taken, so the locks are held for writes only.
    """
    require_senior(principal)
    async with before_transaction(db):  # most claimers of a race stop at this read: no BEGIN, no ROLLBACK for them
        handoff = await load_handoff(db, principal, handoff_id)
    require_may_claim(principal, handoff, park=handoff.intent == Intent.PARK)
    if handoff.status != HandoffStatus.OPEN:
        return _lost(handoff, principal)  # decided already: no lock to wait for, nothing to write

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
        return _lost(handoff, principal)

    await reactivate_session(db, handoff, engineer_id=principal.user_id)
    schedule_stale_claim(db, handoff, settings.policy, settings.newest_message_id)
    announce(db, handoff, "handoff_claimed")
    if settings.chat_destinations:
        add_chat_job(db, account_id=handoff.account_id, handoff_id=handoff.id, round=CLAIMED_ROUND)
    await db.flush()
    # No assessment feedback to read: only a handoff's claimer gives it, and this one was open, never claimed before.
    return handoff_out(handoff)


def _lost(handoff: HandoffRow, principal: Principal) -> Handoff:
    """Someone moved the escalation first: the caller's own earlier claim stands, anything else is a 409."""
    if handoff.status == HandoffStatus.CLAIMED and handoff.claimed_by_id == principal.user_id:
        return handoff_out(handoff)
    raise_if_claimed(handoff)
    raise HandoffNotClaimable(f"the escalation is {handoff.status}")
