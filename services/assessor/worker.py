"""`handoff assessor`: the arq worker for `assess` jobs, and the same job in-process for `handoff dev`.

Either way a sweeper runs beside the job and queues again any assessment left pending past the
job's timeout.
"""

from __future__ import annotations

import logging

from services.assessor.providers.factory import build_provider
from services.assessor.service import AssessHandoff
from shared import worker
from shared.assessments.sweep import assess_sweep
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.jobs.sweeper import Sweeper

log = logging.getLogger("handoff.assessor")


def job_timeout_s(settings: Settings) -> float:
    """Long enough for the provider's retries and one repair, each up to the AI timeout."""
    return max(settings.job_timeout_s, settings.ai_timeout_s * 8 + 30)


def retry_delay(exc: Exception, attempt: int) -> float:
    # Provider failures are handled inside the job; what reaches here is infrastructure: retry.
    return min(60, 5 * attempt)


def build(runtime: Runtime) -> worker.WorkerParts:
    settings = runtime.settings
    provider = build_provider(settings)
    log.info("assessor: provider %s, model %s", provider.name, provider.model)
    sweeper = Sweeper(
        runtime.sessionmaker,
        runtime.jobs,
        sweeps=[assess_sweep(stale_after_s=job_timeout_s(settings) + 10)],
        interval_s=settings.sweep_interval_s,
    )
    return worker.WorkerParts(
        queue="assess",
        jobs={"assess": AssessHandoff(runtime.sessionmaker, provider)},
        job_timeout_s=job_timeout_s(settings),
        retry_delay=retry_delay,
        beside=[sweeper],
        closers=[provider.close],
    )


async def attach_in_process(runtime: Runtime) -> None:
    """Run `assess` jobs inside this process (the embedded default)."""
    worker.attach(runtime, build(runtime))


async def run_worker(settings: Settings) -> None:
    """Consume the assess queue until a signal stops the worker; Redis and database outages are waited out."""
    await worker.run_worker(settings, role="assessor", build=build, log=log)
