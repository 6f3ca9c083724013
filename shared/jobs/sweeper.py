"""The sweeper: queues again the jobs whose work was left pending, so nothing waits forever.

Every worker runs one for the jobs it serves. On PostgreSQL a transaction-scoped advisory lock per
job family lets one sweeper work at a time; the others skip that round. A job that is still queued
or running is left alone (`JobQueue.requeue` says so), so a sweep never doubles live work.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Collection
from contextlib import suppress
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.assessments.service import stale_assessments
from shared.background import finish
from shared.db.locks import try_transaction_lock
from shared.db.uow import unit_of_work
from shared.deliveries.service import escalations_never_notified, handoffs_with_unfinished_deliveries
from shared.escalations.firing import notify_job_id
from shared.jobs.base import JobQueue

log = logging.getLogger("handoff.sweeper")

# One lock per job family, so the assessor's sweep and the notifier's never wait for each other.
SWEEP_LOCK_KEYS = {"assess": 0x48414E44535731, "notify": 0x48414E44535732}
# A pending delivery touched more recently than this belongs to a job that is about to claim it.
IDLE_S = 5.0
# Escalations older than this are no longer searched for a notification that never started.
NOTIFY_HORIZON_S = 7 * 24 * 3600.0


class Sweeper:
    """Every `interval_s`, queue again what was left pending: `assess` and/or `notify` work.

    `stale_after_s` is how long an assessment, or an escalation without its delivery rows, may wait
    for its job; `idle_s` how long an unfinished delivery row may sit untouched.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        jobs: JobQueue,
        *,
        families: Collection[str],
        interval_s: float,
        stale_after_s: float,
        idle_s: float = IDLE_S,
    ) -> None:
        unknown = set(families) - set(SWEEP_LOCK_KEYS)
        assert not unknown, f"no sweep for {unknown}"
        self.sessionmaker = sessionmaker
        self.jobs = jobs
        self.families = tuple(families)
        self.interval_s = interval_s
        self.stale_after_s = stale_after_s
        self.idle_s = idle_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.requeued = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sweeper")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping.set()
        await finish(self._task)
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            # Jittered, so the sweepers of many workers do not all knock at once.
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s * (0.75 + random.random() / 2))
            if self._stopping.is_set():
                return
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - an outage ends this round only; the next one tries again
                log.warning("sweep failed (%s: %s); trying again in %.0f s", type(exc).__name__, exc, self.interval_s)

    async def sweep(self) -> int:
        """One round over every family; the number of jobs queued again."""
        requeued = 0
        for family in self.families:
            requeued += await self._sweep(family)
        self.requeued += requeued
        return requeued

    async def _sweep(self, family: str) -> int:
        async with unit_of_work(self.sessionmaker) as db:
            if not await try_transaction_lock(db, SWEEP_LOCK_KEYS[family]):
                return 0  # another worker is sweeping
            wanted = await self._left_pending(db, family)
            requeued = 0
            for handoff_id, job, round in sorted(set(wanted)):
                payload: dict[str, Any] = {"handoff_id": str(handoff_id)}
                job_id = f"{job}:{handoff_id}"
                if round:  # a reminder's or stale-claim's emails
                    payload["round"] = round
                    job_id = notify_job_id(handoff_id, round)
                if await self.jobs.requeue(job, job_id, payload):
                    requeued += 1
                    log.info("sweeper: queued %s for handoff %s again", job, handoff_id)
        return requeued

    async def _left_pending(self, db: AsyncSession, family: str) -> list[tuple[uuid.UUID, str, int]]:
        if family == "assess":
            return [(h, "assess", 0) for h in await stale_assessments(db, older_than_s=self.stale_after_s)]
        wanted = list(await handoffs_with_unfinished_deliveries(db, idle_s=self.idle_s))
        never = await escalations_never_notified(db, older_than_s=self.stale_after_s, within_s=NOTIFY_HORIZON_S)
        wanted += [(handoff_id, job, 0) for handoff_id, job in never]
        return wanted
