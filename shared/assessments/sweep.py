"""The assessments' sweep: escalations still waiting for an assessment whose job was lost."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from shared.assessments.service import stale_assessments
from shared.jobs.sweeper import Requeue, Sweep

# The advisory lock of this sweep; the notifier's has its own, so neither waits for the other.
ASSESS_LOCK_KEY = 0x48414E44535731


def assess_sweep(*, stale_after_s: float) -> Sweep:
    """Assessments pending for longer than `stale_after_s`: their `assess` job is queued again."""

    async def left_pending(db: AsyncSession) -> Sequence[Requeue]:
        stale = await stale_assessments(db, older_than_s=stale_after_s)
        return [Requeue("assess", f"assess:{handoff_id}", {"handoff_id": str(handoff_id)}) for handoff_id in stale]

    return Sweep("assess", ASSESS_LOCK_KEY, left_pending)
