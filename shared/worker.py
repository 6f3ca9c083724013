"""The skeleton every worker process shares: its jobs run by arq (or in-process), with a sweeper and timers beside.

A worker names its jobs, what runs beside them and how long a job may take; this module builds the arq
Worker, retries failed jobs with the worker's delays, reports health, waits out Redis outages, and stops
on a signal, the same way for the assessor and the notifier.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from arq.connections import ArqRedis
from arq.worker import Retry, Worker, func

from shared.bootstrap import Runtime
from shared.config import ConfigError, Settings
from shared.jobs.arq import JOB_COMPLETION_WAIT_S, arq_worker, serve
from shared.jobs.arq_observed import health_options, observed
from shared.jobs.base import JOB_QUEUES, JobHandler
from shared.jobs.memory import InProcessJobQueue

# A job's delay before its next try, given what it raised and the try that failed.
RetryDelay = Callable[[Exception, int], float]


class Beside(Protocol):
    """Something that runs beside the jobs for the worker's lifetime: a sweeper, a timer runner."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class WorkerParts:
    """What one worker runs: its jobs (all on the queue of `queue`), what runs beside them, what to close after."""

    queue: str  # the job whose queue the worker consumes and whose health key it refreshes
    jobs: dict[str, JobHandler]
    job_timeout_s: float
    retry_delay: RetryDelay
    beside: list[Beside] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def attach(runtime: Runtime, parts: WorkerParts) -> None:
    """Run the worker's jobs inside this process (the embedded default); the runtime stops them with itself."""
    assert isinstance(runtime.jobs, InProcessJobQueue)
    for name, job in parts.jobs.items():
        runtime.jobs.run(name, job)
    runtime.closers.extend(parts.closers)  # the runtime closes in reverse: these after what runs beside
    for task in parts.beside:
        task.start()
        runtime.closers.append(task.stop)


def retrying(name: str, job: JobHandler, *, max_tries: int, delay: RetryDelay, log: logging.Logger) -> Any:
    """An arq function: a job that raised is tried again after `delay`; the sweeper takes over once tries run out."""

    async def run(ctx: dict[str, Any], payload: dict[str, Any]) -> object:
        try:
            return await job(payload)
        except Exception as exc:
            attempt = ctx["job_try"]
            defer = delay(exc, attempt)
            handoff_id = payload.get("handoff_id")
            if attempt >= max_tries:
                log.error(
                    "%s %s: still failing after %d tries (%s); the sweeper will queue it again",
                    name,
                    handoff_id,
                    attempt,
                    exc,
                )
            else:
                log.warning("%s %s: %s; try %d again in %d s", name, handoff_id, exc, attempt + 1, defer)
            raise Retry(defer=defer) from exc

    return func(observed(name, run, max_tries=max_tries), name=name)


async def run_worker(
    settings: Settings,
    *,
    role: str,
    build: Callable[[Runtime], WorkerParts],
    log: logging.Logger,
    needs_secrets: bool = False,
) -> None:
    """Consume the worker's queue until a signal stops it; Redis and database outages are waited out."""
    if not settings.uses_redis:
        raise ConfigError(
            f"handoff {role} needs HANDOFF_REDIS_URL or HANDOFF_REDIS_SENTINELS; "
            f"`handoff dev` runs the {role} in-process"
        )
    if needs_secrets:
        settings.require_secrets()
    runtime = Runtime.build(settings, role=role)
    await runtime.start()
    parts = build(runtime)
    max_tries = settings.job_max_tries
    functions = [
        retrying(name, job, max_tries=max_tries, delay=parts.retry_delay, log=log) for name, job in parts.jobs.items()
    ]

    def worker(pool: ArqRedis) -> Worker:
        return arq_worker(
            functions=functions,
            queue_name=JOB_QUEUES[parts.queue],
            redis_pool=pool,
            max_tries=max_tries,
            keep_result=60,  # a job id stays taken while its result is kept: keep it short
            job_timeout=int(parts.job_timeout_s),
            max_jobs=10,
            handle_signals=True,
            job_completion_wait=JOB_COMPLETION_WAIT_S,
            **health_options(parts.queue),
        )

    for task in parts.beside:
        task.start()
    try:
        master = runtime.redis_master
        assert master is not None
        # arq's own pool: a worker polls its queue and runs up to max_jobs jobs, each with a few commands.
        await serve(worker, lambda: master.pool(max_connections=settings.redis_pool_size), role=role)
    finally:
        for task in reversed(parts.beside):
            await task.stop()
        for close in parts.closers:
            await close()
        await runtime.stop()
