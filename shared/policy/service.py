"""An account's escalation policy: when reminders and stale-claim nudges are due, and who each step pages."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.clock import utcnow
from shared.db.base import table_of
from shared.directory.who import active_seniors, require_account_manager
from shared.errors import InvalidField
from shared.oncall.service import on_call_document
from shared.policy.schemas import EscalationPolicy, EscalationStep, ReminderIntervals, default_steps
from shared.policy.tables import EscalationPolicyRow

REMINDER_BOUNDS = (5, 86400)
STALE_CLAIM_BOUNDS = (5, 604800)
LATER_STEP_BOUNDS = (5, 86400)
ALL_SENIORS = "all_seniors"
ROTATION_PREFIX = "rotation:"
USER_PREFIX = "user:"


# The columns `policy_from_columns` takes, in its order.
_POLICY = table_of(EscalationPolicyRow).c
POLICY_COLUMNS = (
    _POLICY.reminder_low_s,
    _POLICY.reminder_normal_s,
    _POLICY.reminder_high_s,
    _POLICY.max_reminders,
    _POLICY.stale_claim_s,
    _POLICY.steps,
    _POLICY.email_pick_up_links,
)


def policy_from_columns(
    reminder_low_s: int | None,
    reminder_normal_s: int,
    reminder_high_s: int,
    max_reminders: int,
    stale_claim_s: int,
    steps: list[dict[str, Any]] | None,
    email_pick_up_links: bool,
) -> EscalationPolicy:
    """The policy of a row's columns (`reminder_low_s` None: the account has no row, the defaults)."""
    if reminder_low_s is None:
        return EscalationPolicy(steps=default_steps(), email_pick_up_links=True)
    return EscalationPolicy(
        unclaimed_reminder_s=ReminderIntervals(low=reminder_low_s, normal=reminder_normal_s, high=reminder_high_s),
        max_reminders=max_reminders,
        stale_claim_s=stale_claim_s,
        steps=default_steps() if steps is None else msgspec.convert(steps, list[EscalationStep]),
        email_pick_up_links=email_pick_up_links,
    )


async def policy_of(db: AsyncSession, account_id: uuid.UUID) -> EscalationPolicy:
    """The account's policy; the defaults until one was saved, steps and pick-up links always answered."""
    row = await db.get(EscalationPolicyRow, account_id)
    if row is None:
        return policy_from_columns(None, 0, 0, 0, 0, None, True)
    return policy_from_columns(
        row.reminder_low_s,
        row.reminder_normal_s,
        row.reminder_high_s,
        row.max_reminders,
        row.stale_claim_s,
        row.steps,
        row.email_pick_up_links,
    )


def _check(field: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if value != 0 and not low <= value <= high:
        raise InvalidField(field, f"must be 0 (off) or between {low} and {high} seconds")


def _check_steps(steps: list[EscalationStep], rotations: set[str], seniors: set[uuid.UUID]) -> None:
    """`after_s` 0 first, then strictly increasing within 5..86400; each target names something that exists."""
    for index, step in enumerate(steps):
        field = f"steps[{index}]"
        if index == 0 and step.after_s != 0:
            raise InvalidField(f"{field}.after_s", "must be 0: the first step pages when the escalation is made")
        if index > 0:
            low, high = LATER_STEP_BOUNDS
            if not low <= step.after_s <= high:
                raise InvalidField(f"{field}.after_s", f"must be between {low} and {high} seconds")
            if step.after_s <= steps[index - 1].after_s:
                raise InvalidField(f"{field}.after_s", "must be later than the step before it")
        for position, target in enumerate(step.notify):
            _check_target(f"{field}.notify[{position}]", target, rotations, seniors)


def _check_target(field: str, target: str, rotations: set[str], seniors: set[uuid.UUID]) -> None:
    if target == ALL_SENIORS:
        return
    if target.startswith(ROTATION_PREFIX):
        if target.removeprefix(ROTATION_PREFIX) not in rotations:
            raise InvalidField(field, "names no rotation of the account's on-call document")
        return
    if target.startswith(USER_PREFIX):
        try:
            user_id = uuid.UUID(target.removeprefix(USER_PREFIX))
        except ValueError:
            raise InvalidField(field, "must be user:<id> with a user id") from None
        if user_id not in seniors:
            raise InvalidField(field, "is not an active senior of the account")
        return
    raise InvalidField(field, "must be rotation:<name>, user:<id> or all_seniors")


async def get_escalation_policy(db: AsyncSession, principal: Principal, account_id: uuid.UUID) -> EscalationPolicy:
    require_account_manager(principal, account_id)
    return await policy_of(db, account_id)


async def put_escalation_policy(
    db: AsyncSession, principal: Principal, account_id: uuid.UUID, body: EscalationPolicy
) -> EscalationPolicy:
    """Save the policy; open escalations follow it from their next timer on. Absent steps keep the saved ones."""
    require_account_manager(principal, account_id)
    for urgency in ("low", "normal", "high"):
        _check(f"unclaimed_reminder_s.{urgency}", body.reminder_interval_s(urgency), REMINDER_BOUNDS)
    _check("stale_claim_s", body.stale_claim_s, STALE_CLAIM_BOUNDS)
    if body.steps is not msgspec.UNSET:
        document = await on_call_document(db, account_id)
        seniors = set((await active_seniors(db, account_id)).keys())
        _check_steps(body.steps, {r.name for r in document.rotations}, seniors)
    row = await db.get(EscalationPolicyRow, account_id, with_for_update=True)
    if row is None:
        row = EscalationPolicyRow(account_id=account_id, steps=None, email_pick_up_links=True)
        db.add(row)
    row.reminder_low_s = body.unclaimed_reminder_s.low
    row.reminder_normal_s = body.unclaimed_reminder_s.normal
    row.reminder_high_s = body.unclaimed_reminder_s.high
    row.max_reminders = body.max_reminders
    row.stale_claim_s = body.stale_claim_s
    if body.steps is not msgspec.UNSET:
        row.steps = msgspec.to_builtins(body.steps)
    if body.email_pick_up_links is not msgspec.UNSET:
        row.email_pick_up_links = body.email_pick_up_links
    row.updated_at = utcnow()
    await db.flush()
    return await policy_of(db, account_id)
