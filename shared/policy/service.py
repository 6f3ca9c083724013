"""An account's escalation policy: when reminders and stale-claim nudges are due."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.clock import utcnow
from shared.directory.who import require_account_manager
from shared.errors import InvalidInput
from shared.policy.schemas import EscalationPolicy, ReminderIntervals
from shared.policy.tables import EscalationPolicyRow

REMINDER_BOUNDS = (5, 86400)
STALE_CLAIM_BOUNDS = (5, 604800)


async def policy_of(db: AsyncSession, account_id: uuid.UUID) -> EscalationPolicy:
    """The account's policy; the defaults until one was saved."""
    row = await db.get(EscalationPolicyRow, account_id)
    if row is None:
        return EscalationPolicy()
    return EscalationPolicy(
        unclaimed_reminder_s=ReminderIntervals(
            low=row.reminder_low_s, normal=row.reminder_normal_s, high=row.reminder_high_s
        ),
        max_reminders=row.max_reminders,
        stale_claim_s=row.stale_claim_s,
    )


def _check(field: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if value != 0 and not low <= value <= high:
        raise InvalidInput(f"{field} must be 0 (off) or between {low} and {high} seconds")


async def get_escalation_policy(db: AsyncSession, principal: Principal, account_id: uuid.UUID) -> EscalationPolicy:
    require_account_manager(principal, account_id)
    return await policy_of(db, account_id)


async def put_escalation_policy(
    db: AsyncSession, principal: Principal, account_id: uuid.UUID, body: EscalationPolicy
) -> EscalationPolicy:
    """Save the policy; open escalations follow it from their next timer on."""
    require_account_manager(principal, account_id)
    for urgency in ("low", "normal", "high"):
        _check(f"unclaimed_reminder_s.{urgency}", body.reminder_interval_s(urgency), REMINDER_BOUNDS)
    _check("stale_claim_s", body.stale_claim_s, STALE_CLAIM_BOUNDS)
    row = await db.get(EscalationPolicyRow, account_id, with_for_update=True)
    if row is None:
        row = EscalationPolicyRow(account_id=account_id)
        db.add(row)
    row.reminder_low_s = body.unclaimed_reminder_s.low
    row.reminder_normal_s = body.unclaimed_reminder_s.normal
    row.reminder_high_s = body.unclaimed_reminder_s.high
    row.max_reminders = body.max_reminders
    row.stale_claim_s = body.stale_claim_s
    row.updated_at = utcnow()
    await db.flush()
    return await policy_of(db, account_id)
