"""`handoff assessor`: the arq worker for `assess` jobs, and the same job in-process for `handoff dev`."""

from __future__ import annotations

import logging
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Retry, Worker, func

from services.assessor.providers.factory import build_provider
from services.assessor.service import AssessHandoff
from shared.bootstrap import Runtime
from shared.config import ConfigError, Settings
from shared.jobs.base import JOB_QUEUES
from shared.jobs.memory import InProcessJobQueue
from shared.observability.workers import health_options, observed

log = logging.getLogger("handoff.assessor")
MAX_TRIES = 5


async def attach_in_process(runtime: Runtime) -> None:
    """Run `assess` jobs inside this process (the embedded default)."""
    assert isinstance(runtime.jobs, InProcessJobQueue)
    provider = build_provider(runtime.settings)
    runtime.jobs.run("assess", AssessHandoff(runtime.sessionmaker, provider))
    if hasattr(provider, "close"):
        runtime.closers.append(provider.close)


async def run_worker(settings: Settings) -> None:
    """Consume the assess queue until a signal stops the worker."""
    if not settings.redis_url:
        raise ConfigError("handoff assessor needs HANDOFF_REDIS_URL; `handoff dev` runs the assessor in-process")
    runtime = Runtime.build(settings, role="assessor")
    await runtime.start()
    provider = build_provider(settings)
    job = AssessHandoff(runtime.sessionmaker, provider)

    async def assess(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
        try:
            return await job(payload)
        except Exception as exc:
            # Provider failures are handled inside the job; what reaches here is infrastructure: retry.
            log.warning("assess %s failed on try %d: %s", payload.get("handoff_id"), ctx["job_try"], exc)
            raise Retry(defer=min(60, 5 * ctx["job_try"])) from exc

    worker = Worker(
        functions=[func(observed("assess", assess, max_tries=MAX_TRIES), name="assess")],
        queue_name=JOB_QUEUES["assess"],
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        max_tries=MAX_TRIES,
        keep_result=60,  # a job id stays taken while its result is kept: keep it short
        job_timeout=int(max(settings.job_timeout_s, settings.ai_timeout_s * 8 + 30)),
        max_jobs=10,
        handle_signals=True,
        **health_options("assess"),
    )
    log.info("assessor: provider %s, model %s", provider.name, provider.model)
    try:
        await worker.async_run()
    finally:
        await worker.close()
        if hasattr(provider, "close"):
            await provider.close()
        await runtime.stop()
