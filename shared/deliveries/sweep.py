"""The deliveries' sweep: notifications whose job was lost, before or after it wrote its rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.channels import round_job_id
from shared.deliveries.service import (
    chat_follow_ups_never_written,
    escalations_never_notified,
    handoffs_with_unfinished_deliveries,
)
from shared.jobs.sweeper import Requeue, Sweep

# The advisory lock of this sweep; the assessor's has its own, so neither waits for the other.
NOTIFY_LOCK_KEY = 0x48414E44535732
# A pending delivery touched more recently than this belongs to a job that is about to claim it.
IDLE_S = 5.0
# Escalations older than this are no longer searched for a notification that never started.
NOTIFY_HORIZON_S = 7 * 24 * 3600.0


def notify_sweep(*, stale_after_s: float, idle_s: float = IDLE_S) -> Sweep:
    """Delivery rows nobody works on (untouched for `idle_s`), escalations whose channel job wrote no rows
    `stale_after_s` after they were made, and chat follow-ups of claims and withdrawals likewise: the job that
    sends them is queued again."""

    async def left_pending(db: AsyncSession) -> Sequence[Requeue]:
        wanted = [
            _requeue(h, job, round) for h, job, round in await handoffs_with_unfinished_deliveries(db, idle_s=idle_s)
        ]
        never = await escalations_never_notified(db, older_than_s=stale_after_s, within_s=NOTIFY_HORIZON_S)
        follow_ups = await chat_follow_ups_never_written(db, older_than_s=stale_after_s, within_s=NOTIFY_HORIZON_S)
        return [
            *wanted,
            *(_requeue(handoff_id, job, 0) for handoff_id, job in never),
            *(_requeue(handoff_id, job, round) for handoff_id, job, round in follow_ups),
        ]

    return Sweep("notify", NOTIFY_LOCK_KEY, left_pending)


def _requeue(handoff_id: uuid.UUID, job: str, round: int) -> Requeue:
    payload: dict[str, Any] = {"handoff_id": str(handoff_id)}
    if round:  # a reminder's, a stale-claim's or a chat follow-up's
        payload["round"] = round
    return Requeue(job, round_job_id(job, handoff_id, round), payload)
