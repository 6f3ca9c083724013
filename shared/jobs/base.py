"""The job queue: background work the outbox hands to the assessor and notifier workers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

JobHandler = Callable[[dict[str, Any]], Awaitable[object]]

# Each worker kind has its own queue, so a worker only ever takes jobs it can run.
ASSESS_QUEUE = "handoff:jobs:assess"
NOTIFY_QUEUE = "handoff:jobs:notify"
# The queue of every job: the two workers' own jobs are here; the composition root adds the channels' jobs.
JOB_QUEUES: dict[str, str] = {"assess": ASSESS_QUEUE, "notify": NOTIFY_QUEUE}


def register_job(name: str, queue: str) -> None:
    """Route job `name` to `queue`, before the relay or a worker needs it."""
    assert JOB_QUEUES.get(name, queue) == queue, f"job {name!r} already goes to {JOB_QUEUES[name]}"
    JOB_QUEUES[name] = queue


class RetryAfter(Exception):
    """A job that failed for a reason that may pass, and says how long to wait before its next try (None: the
    queue's own backoff)."""

    def __init__(self, message: str, *, delay_s: float | None = None) -> None:
        super().__init__(message)
        self.delay_s = delay_s


class JobQueueUnavailable(Exception):
    """The queue could not be reached; the outbox keeps the job and tries again."""


class JobNotReplicated(JobQueueUnavailable):
    """The master took the job, but fewer replicas than required confirmed it; the outbox sends it again."""


class JobQueue(Protocol):
    async def enqueue(self, name: str, job_id: str, payload: dict[str, Any]) -> bool:
        """Queue a job once per `job_id`: False when that id is already queued or running."""
        ...

    async def enqueue_many(self, jobs: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """`enqueue` each (name, job_id, payload), in as few round trips as the queue can.

        Raises as `enqueue` does. Which of them were queued before a failure is not said: queuing them again
        queues none twice (`job_id`).
        """
        ...

    async def requeue(self, name: str, job_id: str, payload: dict[str, Any]) -> bool:
        """Queue the job again unless it is queued or running now: False when it is.

        For the sweeper: a job that finished, gave up or was lost no longer holds its id.
        """
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
