"""`handoff notifier`: the arq worker for `notify` and `psa_push` jobs, and the same jobs in-process.

Either way a sweeper runs beside the jobs and queues again any notification a lost or exhausted
job left pending.
"""

from __future__ import annotations

import logging
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from arq.worker import Retry, Worker, func

from services.notifier.mailers import build_mailer
from services.notifier.service import NotifyHandoff, PushToPSA, RetryLater
from shared.bootstrap import Runtime
from shared.config import ConfigError, Settings
from shared.escalations.runner import TimerRunner
from shared.integrations.crypto import SecretBox
from shared.integrations.outbound import OutboundClients, OutboundPolicy
from shared.jobs.arq import JOB_COMPLETION_WAIT_S, arq_worker, serve
from shared.jobs.base import JOB_QUEUES, JobHandler
from shared.jobs.memory import InProcessJobQueue
from shared.jobs.sweeper import Sweeper
from shared.observability.workers import health_options, observed

log = logging.getLogger("handoff.notifier")
MAX_RETRY_DELAY_S = 300


def build_jobs(runtime: Runtime, outbound: OutboundClients) -> dict[str, JobHandler]:
    settings = runtime.settings
    # A claimed row is taken over once its lease runs out: no send outlives a job's timeout.
    lease_s = settings.job_timeout_s
    notify = NotifyHandoff(
        runtime.sessionmaker,
        build_mailer(settings),
        public_url=settings.public_url,
        sender=settings.smtp_from,
        lease_s=lease_s,
    )
    push = PushToPSA(
        runtime.sessionmaker, SecretBox(settings.secret_key), outbound, public_url=settings.public_url, lease_s=lease_s
    )
    return {"notify": notify, "psa_push": push}


def build_sweeper(runtime: Runtime) -> Sweeper:
    settings = runtime.settings
    return Sweeper(
        runtime.sessionmaker,
        runtime.jobs,
        families=["notify"],
        interval_s=settings.sweep_interval_s,
        stale_after_s=settings.job_timeout_s + 10,
    )


async def attach_in_process(runtime: Runtime) -> None:
    """Run `notify` and `psa_push` jobs inside this process (the embedded default)."""
    assert isinstance(runtime.jobs, InProcessJobQueue)
    http = _outbound_http(runtime.settings)
    for name, job in build_jobs(runtime, http).items():
        runtime.jobs.run(name, job)
    sweeper = build_sweeper(runtime)
    sweeper.start()
    timers = TimerRunner(runtime.sessionmaker)
    timers.start()
    runtime.closers.append(http.aclose)
    runtime.closers.append(sweeper.stop)
    runtime.closers.append(timers.stop)


def _outbound_http(settings: Settings) -> OutboundClients:
    """The only clients PSA and webhook pushes use: every target checked and pinned (API.md, Outbound safety)."""
    return OutboundClients(OutboundPolicy.from_allow_list(settings.outbound_allow), timeout=15)


def retrying(name: str, job: JobHandler, max_tries: int) -> Any:
    """An arq function: what could not be delivered yet is retried with growing delays."""

    async def run(ctx: dict[str, Any], payload: dict[str, Any]) -> object:
        try:
            return await job(payload)
        except Exception as exc:
            if isinstance(exc, RetryLater):  # a channel is down: back off further each time
                delay = min(MAX_RETRY_DELAY_S, 2 ** min(ctx["job_try"], 9))
            else:
                delay = min(MAX_RETRY_DELAY_S, 5 * ctx["job_try"])
            handoff_id, attempt = payload.get("handoff_id"), ctx["job_try"]
            if attempt >= max_tries:
                log.error(
                    "%s %s: still failing after %d tries (%s); the sweeper will queue it again",
                    name,
                    handoff_id,
                    attempt,
                    exc,
                )
            else:
                log.info("%s %s: %s; try %d again in %d s", name, handoff_id, exc, attempt + 1, delay)
            raise Retry(defer=delay) from exc

    return func(observed(name, run, max_tries=max_tries), name=name)


async def run_worker(settings: Settings) -> None:
    """Consume the notify queue until a signal stops the worker; Redis and database outages are waited out."""
    if not settings.redis_url:
        raise ConfigError("handoff notifier needs HANDOFF_REDIS_URL; `handoff dev` runs the notifier in-process")
    settings.require_secrets()
    runtime = Runtime.build(settings, role="notifier")
    await runtime.start()
    http = _outbound_http(settings)
    functions = [retrying(name, job, settings.job_max_tries) for name, job in build_jobs(runtime, http).items()]
    sweeper = build_sweeper(runtime)

    def worker(pool: ArqRedis) -> Worker:
        return arq_worker(
            functions=functions,
            queue_name=JOB_QUEUES["notify"],
            redis_pool=pool,
            max_tries=settings.job_max_tries,
            keep_result=60,  # a job id stays taken while its result is kept: keep it short
            job_timeout=int(settings.job_timeout_s),
            max_jobs=10,
            handle_signals=True,
            job_completion_wait=JOB_COMPLETION_WAIT_S,
            **health_options("notify"),
        )

    log.info("notifier: email via %s", settings.smtp_host or "files under var/mail/")
    sweeper.start()
    timers = TimerRunner(runtime.sessionmaker)  # reminders and stale-claim nudges, from their rows
    timers.start()
    try:
        await serve(worker, RedisSettings.from_dsn(settings.redis_url), role="notifier")
    finally:
        await timers.stop()
        await sweeper.stop()
        await http.aclose()
        await runtime.stop()
