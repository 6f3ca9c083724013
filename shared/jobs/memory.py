"""In-process jobs for the embedded default: queued per name, run by registered handlers, retried."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from shared.jobs.base import JobHandler, RetryAfter
from shared.jobs.codec import json_round_trip
from shared.observability.jobs import job_run

log = logging.getLogger("handoff.jobs")
REMEMBERED_IDS = 10000
# On shutdown, running jobs get this long to finish before they are cancelled.
DRAIN_S = 25.0


class InProcessJobQueue:
    """At-least-once like arq: a failing handler is retried with backoff up to `max_tries`.

    A handler that raises never stops its consumer; a job that used up its tries is logged and left
    to the sweeper, which finds what it left pending and queues it again.
    """

    def __init__(self, *, max_tries: int = 5, retry_delay_s: float = 1.0, drain_s: float = DRAIN_S) -> None:
        self.max_tries = max_tries
        self.retry_delay_s = retry_delay_s
        self.drain_s = drain_s
        self._queues: dict[str, asyncio.Queue[tuple[str, dict[str, Any]]]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._active: set[str] = set()  # queued or running now
        self._workers: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Task[None]] = set()
        self._closing = False

    def _queue(self, name: str) -> asyncio.Queue[tuple[str, dict[str, Any]]]:
        return self._queues.setdefault(name, asyncio.Queue())

    def _put(self, name: str, job_id: str, payload: dict[str, Any]) -> None:
        # Through JSON as on Redis: a job that runs here runs the same under arq's workers.
        payload = json_round_trip(payload)
        self._seen[job_id] = None
        self._seen.move_to_end(job_id)
        while len(self._seen) > REMEMBERED_IDS:
            self._seen.popitem(last=False)
        self._active.add(job_id)
        self._queue(name).put_nowait((job_id, payload))

    async def enqueue(self, name: str, job_id: str, payload: dict[str, Any]) -> bool:
        if job_id in self._seen or job_id in self._active:
            return False
        self._put(name, job_id, payload)
        return True

    async def enqueue_many(self, jobs: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        for name, job_id, payload in jobs:
            await self.enqueue(name, job_id, payload)

    async def requeue(self, name: str, job_id: str, payload: dict[str, Any]) -> bool:
        if job_id in self._active:
            return False
        self._put(name, job_id, payload)
        return True

    def job_ids(self) -> set[str]:
        """The ids this queue has taken (the most recent ones)."""
        return set(self._seen)

    def run(self, name: str, handler: JobHandler, *, concurrency: int = 4) -> None:
        """Start consuming `name` jobs with `handler`."""
        for _ in range(concurrency):
            self._workers.append(asyncio.create_task(self._consume(name, handler)))

    async def _consume(self, name: str, handler: JobHandler) -> None:
        queue = self._queue(name)
        me = asyncio.current_task()
        assert me is not None
        while not self._closing:
            job_id, payload = await queue.get()
            self._busy.add(me)
            try:
                await self._run(name, job_id, payload, handler)
            finally:
                self._busy.discard(me)
                self._active.discard(job_id)

    async def _run(self, name: str, job_id: str, payload: dict[str, Any], handler: JobHandler) -> None:
        for attempt in range(1, self.max_tries + 1):
            try:
                async with job_run(name, payload, job_id=job_id, attempt=attempt, max_tries=self.max_tries):
                    await handler(payload)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("job %s failed (attempt %d of %d)", job_id, attempt, self.max_tries)
                if attempt < self.max_tries and not self._closing:
                    asked = exc.delay_s if isinstance(exc, RetryAfter) else None
                    await asyncio.sleep(self.retry_delay_s * attempt if asked is None else asked)
        log.error("job %s: out of tries; the sweeper will queue it again for what it left pending", job_id)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        """Stop taking jobs, give running ones `drain_s` to finish, then cancel what is left."""
        self._closing = True
        for task in self._workers:
            if task not in self._busy:
                task.cancel()
        busy = set(self._busy)
        if busy:
            log.info("waiting up to %.0f s for %d running jobs", self.drain_s, len(busy))
            await asyncio.wait(busy, timeout=self.drain_s)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
