"""`handoff notifier`: the arq worker for `notify` and `psa_push` jobs, and the same jobs in-process."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from arq.connections import RedisSettings
from arq.worker import Retry, Worker, func

from services.notifier.mailers import build_mailer
from services.notifier.service import NotifyHandoff, PushToPSA, RetryLater
from shared.bootstrap import Runtime
from shared.config import ConfigError, Settings
from shared.integrations.crypto import SecretBox
from shared.jobs.base import JOB_QUEUES, JobHandler
from shared.jobs.memory import InProcessJobQueue
from shared.observability.workers import health_options, observed

log = logging.getLogger("handoff.notifier")
# Generous: an SMTP or PSA outage of a few hours still ends in every notification going out.
MAX_TRIES = 60
MAX_RETRY_DELAY_S = 300


def build_jobs(runtime: Runtime, http: httpx.AsyncClient) -> dict[str, JobHandler]:
    settings = runtime.settings
    notify = NotifyHandoff(
        runtime.sessionmaker, build_mailer(settings), public_url=settings.public_url, sender=settings.smtp_from
    )
    push = PushToPSA(runtime.sessionmaker, SecretBox(settings.secret_key), http, public_url=settings.public_url)
    return {"notify": notify, "psa_push": push}


async def attach_in_process(runtime: Runtime) -> None:
    """Run `notify` and `psa_push` jobs inside this process (the embedded default)."""
    assert isinstance(runtime.jobs, InProcessJobQueue)
    http = httpx.AsyncClient(timeout=15)
    for name, job in build_jobs(runtime, http).items():
        runtime.jobs.run(name, job)
    runtime.closers.append(http.aclose)


def retrying(name: str, job: JobHandler) -> Any:
    """An arq function: what could not be delivered yet is retried with growing delays."""

    async def run(ctx: dict[str, Any], payload: dict[str, Any]) -> object:
        try:
            return await job(payload)
        except RetryLater as exc:
            delay = min(MAX_RETRY_DELAY_S, 2 ** min(ctx["job_try"], 9))
            log.info("%s: %s; again in %d s", name, exc, delay)
            raise Retry(defer=delay) from exc
        except Exception as exc:
            log.warning("%s %s failed on try %d: %s", name, payload.get("handoff_id"), ctx["job_try"], exc)
            raise Retry(defer=min(MAX_RETRY_DELAY_S, 5 * ctx["job_try"])) from exc

    return func(observed(name, run, max_tries=MAX_TRIES), name=name)


async def run_worker(settings: Settings) -> None:
    """Consume the notify queue until a signal stops the worker."""
    if not settings.redis_url:
        raise ConfigError("handoff notifier needs HANDOFF_REDIS_URL; `handoff dev` runs the notifier in-process")
    settings.require_secrets()
    runtime = Runtime.build(settings, role="notifier")
    await runtime.start()
    http = httpx.AsyncClient(timeout=15)
    worker = Worker(
        functions=[retrying(name, job) for name, job in build_jobs(runtime, http).items()],
        queue_name=JOB_QUEUES["notify"],
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        max_tries=MAX_TRIES,
        keep_result=60,
        job_timeout=int(settings.job_timeout_s),
        max_jobs=10,
        handle_signals=True,
        **health_options("notify"),
    )
    log.info("notifier: email via %s", settings.smtp_host or "files under var/mail/")
    try:
        await worker.async_run()
    finally:
        await worker.close()
        await http.aclose()
        await runtime.stop()
