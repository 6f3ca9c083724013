"""`handoff assessor`: the arq worker for `assess` jobs, and the same job in-process for `handoff dev`.

Either way a sweeper runs beside the job and queues again any assessment left pending past the
job's timeout.
"""

from __future__ import annotations

import logging
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from arq.worker import Retry, Worker, func

from services.assessor.providers.factory import build_provider
from services.assessor.service import AssessHandoff
from shared.bootstrap import Runtime
from shared.config import ConfigError, Settings
from shared.jobs.arq import JOB_COMPLETION_WAIT_S, arq_worker, serve
from shared.jobs.base import JOB_QUEUES
from shared.jobs.memory import InProcessJobQueue
from shared.jobs.sweeper import Sweeper
from shared.observability.workers import health_options, observed

log = logging.getLogger("handoff.assessor")


def job_timeout_s(settings: Settings) -> float:
    """Long enough for the provider's retries and one repair, each up to the AI timeout."""
    return max(settings.job_timeout_s, settings.ai_timeout_s * 8 + 30)


def build_sweeper(runtime: Runtime) -> Sweeper:
    settings = runtime.settings
    return Sweeper(
        runtime.sessionmaker,
        runtime.jobs,
        families=["assess"],
        interval_s=settings.sweep_interval_s,
        stale_after_s=job_timeout_s(settings) + 10,
    )


async def attach_in_process(runtime: Runtime) -> None:
    """Run `assess` jobs inside this process (the embedded default)."""
    assert isinstance(runtime.jobs, InProcessJobQueue)
    provider = build_provider(runtime.settings)
    runtime.jobs.run("assess", AssessHandoff(runtime.sessionmaker, provider))
    sweeper = build_sweeper(runtime)
    sweeper.start()
    runtime.closers.append(provider.close)
    runtime.closers.append(sweeper.stop)


async def run_worker(settings: Settings) -> None:
    """Consume the assess queue until a signal stops the worker; Redis and database outages are waited out."""
    if not settings.redis_url:
        raise ConfigError("handoff assessor needs HANDOFF_REDIS_URL; `handoff dev` runs the assessor in-process")
    runtime = Runtime.build(settings, role="assessor")
    await runtime.start()
    provider = build_provider(settings)
    job = AssessHandoff(runtime.sessionmaker, provider)
    sweeper = build_sweeper(runtime)
    max_tries = settings.job_max_tries

    async def assess(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
        try:
            return await job(payload)
        except Exception as exc:
            # Provider failures are handled inside the job; what reaches here is infrastructure: retry.
            level = logging.ERROR if ctx["job_try"] >= max_tries else logging.WARNING
            log.log(level, "assess %s failed on try %d: %s", payload.get("handoff_id"), ctx["job_try"], exc)
            raise Retry(defer=min(60, 5 * ctx["job_try"])) from exc

    def worker(pool: ArqRedis) -> Worker:
        return arq_worker(
            functions=[func(observed("assess", assess, max_tries=max_tries), name="assess")],
            queue_name=JOB_QUEUES["assess"],
            redis_pool=pool,
            max_tries=max_tries,
            keep_result=60,  # a job id stays taken while its result is kept: keep it short
            job_timeout=int(job_timeout_s(settings)),
            max_jobs=10,
            handle_signals=True,
            job_completion_wait=JOB_COMPLETION_WAIT_S,
            **health_options("assess"),
        )

    log.info("assessor: provider %s, model %s", provider.name, provider.model)
    sweeper.start()
    try:
        await serve(worker, RedisSettings.from_dsn(settings.redis_url), role="assessor")
    finally:
        await sweeper.stop()
        await provider.close()
        await runtime.stop()
