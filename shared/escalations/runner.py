"""The timer loop every notifier runs: about once a second, fire whatever timers are due.

Nothing sleeps until a timer's time: the loop reads due rows, so a worker that was down when a reminder
fell due fires it as soon as it is back, and the rows decide who fires what.
"""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import suppress

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.uow import unit_of_work
from shared.escalations.firing import FiredTimer, fire_due_timers

log = logging.getLogger("handoff.timers")
BATCH = 20


class TimerRunner:
    """Polls for due timers every `interval_s` (jittered) and fires them, one transaction per batch."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, interval_s: float = 1.0) -> None:
        self.sessionmaker = sessionmaker
        self.interval_s = interval_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.fired = 0

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="timers")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({self._task}, timeout=10)
        if not done:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2)
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                while len(await self.fire_due()) == BATCH and not self._stopping.is_set():
                    pass  # more are due: go on at once
            except Exception as exc:  # noqa: BLE001 - an outage ends this round only; the next one tries again
                log.warning("firing due timers failed (%s: %s); trying again shortly", type(exc).__name__, exc)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s * (0.75 + random.random() / 2))

    async def fire_due(self) -> list[FiredTimer]:
        """One batch of due timers, fired and committed; what fired."""
        async with unit_of_work(self.sessionmaker) as db:
            fired = await fire_due_timers(db, limit=BATCH)
        for timer in fired:
            log.info("timer fired: %s round %d of handoff %s", timer.kind, timer.round, timer.handoff_id)
        self.fired += len(fired)
        return fired
