"""The sweeper: queues again the jobs whose work was left pending, so nothing waits forever.

Every worker runs one for the jobs it serves, with the sweeps the domains define for them (what was
left pending is a domain question; queueing it again is not). On PostgreSQL a transaction-scoped
advisory lock per sweep lets one sweeper work at a time; the others skip that round. A job that is
still queued or running is left alone (`JobQueue.requeue` says so), so a sweep never doubles live work.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.background import finish
from shared.db.locks import try_transaction_lock
from shared.db.uow import unit_of_work
from shared.jobs.base import JobQueue

log = logging.getLogger("handoff.sweeper")


@dataclass(frozen=True)
class Requeue:
    """A job to queue again: its name, the id it was queued under, and its payload."""

    job: str
    job_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    """One family of jobs the sweeper looks after.

    `lock_key` is its own advisory lock, so one family's sweep never waits for another's; `left_pending`
    finds, inside the sweep's transaction, the jobs whose work was left pending.
    """

    name: str
    lock_key: int
    left_pending: Callable[[AsyncSession], Awaitable[Iterable[Requeue]]]


class Sweeper:
    """Every `interval_s`, queue again what each of `sweeps` finds left pending."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        jobs: JobQueue,
        *,
        sweeps: Sequence[Sweep],
        interval_s: float,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.jobs = jobs
        self.sweeps = tuple(sweeps)
        self.interval_s = interval_s
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
        """One round over every sweep; the number of jobs queued again."""
        requeued = 0
        for sweep in self.sweeps:
            requeued += await self._sweep(sweep)
        self.requeued += requeued
        return requeued

    async def _sweep(self, sweep: Sweep) -> int:
        async with unit_of_work(self.sessionmaker) as db:
            if not await try_transaction_lock(db, sweep.lock_key):
                return 0  # another worker is sweeping
            # Once per job id, in a stable order.
            wanted = {(item.job, item.job_id): item for item in await sweep.left_pending(db)}
            requeued = 0
            for key in sorted(wanted):
                item = wanted[key]
                if await self.jobs.requeue(item.job, item.job_id, item.payload):
                    requeued += 1
                    log.info("sweeper: queued %s again (%s)", item.job, item.job_id)
        return requeued
