"""The outbox relay: publishes committed outbox rows to the bus and the job queue, in order.

It runs inside every API and worker process. On PostgreSQL, rows are claimed with
`FOR UPDATE SKIP LOCKED` under a transaction-scoped advisory lock, so exactly one relay publishes
at a time and every account's events reach its stream in commit order. It is woken right after a
commit that wrote outbox rows; a slow poll is only the safety net for rows written elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import suppress

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.bus.base import Bus, BusUnavailable
from shared.clock import utcnow
from shared.db.models import OutboxRow
from shared.jobs.base import JobQueue, JobQueueUnavailable
from shared.observability.context import REQUEST_ID_KEY, bound_request_id, request_id_of

log = logging.getLogger("handoff.outbox")

# Any constant will do; it only has to be the same in every process of one database.
RELAY_LOCK_KEY = 0x48414E444F4646
BUSY = -1


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        bus: Bus,
        jobs: JobQueue,
        *,
        batch_size: int = 200,
        poll_interval_s: float = 2.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.bus = bus
        self.jobs = jobs
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Finish the batch in hand, then stop; cancel only a relay that does not finish in time."""
        if self._task is None:
            return
        self._stopping.set()
        self._wake.set()
        done, _ = await asyncio.wait({self._task}, timeout=10)
        if not done:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2)
        self._task = None

    async def _run(self) -> None:
        backoff = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                sent = await self.run_once()
            except (BusUnavailable, JobQueueUnavailable) as exc:
                backoff = min(self.max_backoff_s, backoff * 2 or 0.2)
                log.warning("outbox relay: %s; retrying in %.1f s", exc, backoff)
                await self._pause(backoff * (0.5 + random.random() / 2))
                continue
            except Exception:
                backoff = min(self.max_backoff_s, backoff * 2 or 0.2)
                log.exception("outbox relay failed; retrying in %.1f s", backoff)
                await self._pause(backoff)
                continue
            if backoff:
                log.info("outbox relay: publishing again")
                backoff = 0.0
            if sent == BUSY:
                await asyncio.sleep(0.02)  # another process is publishing; ours may be next in line
                continue
            if sent > 0:
                continue  # there may be more
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)

    async def _pause(self, seconds: float) -> None:
        """Back off; new outbox rows do not cut this short (that would hammer a bus that is down), stopping does."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def run_once(self) -> int:
        """Publish one batch; the number of rows sent, or BUSY when another relay holds the lock."""
        async with self.sessionmaker() as db, db.begin():
            if db.get_bind().dialect.name == "postgresql":
                locked = await db.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK_KEY)))
                if not locked:
                    return BUSY
            query = (
                select(OutboxRow)
                .where(OutboxRow.published_at.is_(None))
                .order_by(OutboxRow.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            rows = (await db.execute(query)).scalars().all()
            sent = 0
            failure: Exception | None = None
            for row in rows:
                try:
                    await self._send(row)
                except (BusUnavailable, JobQueueUnavailable) as exc:
                    row.attempts += 1
                    row.last_error = str(exc)[:1000]
                    failure = exc
                    break
                row.published_at = utcnow()
                sent += 1
        self.published += sent
        if failure is not None:
            raise failure
        return sent

    async def _send(self, row: OutboxRow) -> None:
        with bound_request_id(request_id_of(row.payload)):
            if row.kind == "event":
                # The request id stays in our logs; the stream carries the contract's event data only.
                data = msgspec.json.encode({k: v for k, v in row.payload.items() if k != REQUEST_ID_KEY})
                await self.bus.publish(str(row.account_id), row.topic, data, dedupe_key=f"outbox:{row.id}")
            else:
                await self.jobs.enqueue(row.topic, row.job_id or f"{row.topic}:{row.id}", row.payload)
            log.info("outbox: published %s %s", row.kind, row.topic, extra={"outbox_id": row.id})
