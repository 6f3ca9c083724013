"""The outbox's lag as a figure: how long the oldest unpublished row has waited, sampled every few seconds."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import UTC

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import utcnow
from shared.db.uow import read_only
from shared.observability.metrics import OUTBOX_LAG
from shared.outbox.table import OutboxRow

log = logging.getLogger("handoff.metrics")

OUTBOX_LAG_INTERVAL_S = 5.0
PROBE_TIMEOUT_S = 2.0


async def outbox_lag_seconds(sessionmaker: async_sessionmaker[AsyncSession]) -> float:
    """Seconds since the oldest unpublished outbox row was written; 0 when every row is out."""
    async with read_only(sessionmaker) as db:
        query = select(OutboxRow.created_at).where(OutboxRow.published_at.is_(None)).order_by(OutboxRow.id).limit(1)
        oldest = await db.scalar(query)
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (utcnow() - oldest).total_seconds())


class OutboxLagSampler:
    """Keeps `handoff_outbox_lag_seconds` current: one small indexed query every few seconds."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], interval_s: float = OUTBOX_LAG_INTERVAL_S):
        self.sessionmaker = sessionmaker
        self.interval_s = interval_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-lag")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({self._task}, timeout=PROBE_TIMEOUT_S + 1)
        if not done:
            self._task.cancel()
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    OUTBOX_LAG.set(await outbox_lag_seconds(self.sessionmaker))
            except Exception as exc:  # noqa: BLE001 - a figure we could not read this time; the next try may
                log.debug("outbox lag not sampled: %s", exc)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
