"""In-process jobs for the embedded default: queued per name, run by registered handlers, retried."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from shared.jobs.base import JobHandler
from shared.observability.jobs import job_run

log = logging.getLogger("handoff.jobs")
REMEMBERED_IDS = 10000


class InProcessJobQueue:
    """At-least-once like arq: a failing handler is retried with backoff up to `max_tries`."""

    def __init__(self, *, max_tries: int = 5, retry_delay_s: float = 1.0) -> None:
        self.max_tries = max_tries
        self.retry_delay_s = retry_delay_s
        self._queues: dict[str, asyncio.Queue[tuple[str, dict[str, Any]]]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._workers: list[asyncio.Task[None]] = []

    def _queue(self, name: str) -> asyncio.Queue[tuple[str, dict[str, Any]]]:
        return self._queues.setdefault(name, asyncio.Queue())

    async def enqueue(self, name: str, job_id: str, payload: dict[str, Any]) -> bool:
        if job_id in self._seen:
            return False
        self._seen[job_id] = None
        while len(self._seen) > REMEMBERED_IDS:
            self._seen.popitem(last=False)
        self._queue(name).put_nowait((job_id, payload))
        return True

    def job_ids(self) -> set[str]:
        """The ids this queue has taken (the most recent ones)."""
        return set(self._seen)

    def pending(self, name: str) -> int:
        return self._queue(name).qsize()

    def run(self, name: str, handler: JobHandler, *, concurrency: int = 4) -> None:
        """Start consuming `name` jobs with `handler`."""
        for _ in range(concurrency):
            self._workers.append(asyncio.create_task(self._consume(name, handler)))

    async def _consume(self, name: str, handler: JobHandler) -> None:
        queue = self._queue(name)
        while True:
            job_id, payload = await queue.get()
            for attempt in range(1, self.max_tries + 1):
                try:
                    async with job_run(name, payload, job_id=job_id, attempt=attempt, max_tries=self.max_tries):
                        await handler(payload)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("job %s failed (attempt %d of %d)", job_id, attempt, self.max_tries)
                    await asyncio.sleep(self.retry_delay_s * attempt)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
