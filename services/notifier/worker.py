"""`handoff notifier`: the arq worker for every channel's job, and the same jobs in-process.

Either way a sweeper runs beside the jobs and queues again any notification a lost or exhausted
job left pending, and the timers fire reminders and stale-claim nudges from their rows.
"""

from __future__ import annotations

import logging

from services.notifier.chat import PostToChat
from services.notifier.mailers import build_mailer
from services.notifier.service import NotifyHandoff, PushToPSA, RetryLater
from shared import worker
from shared.bootstrap import Runtime
from shared.channels import channel_jobs
from shared.config import Settings
from shared.crypto import SecretBox
from shared.deliveries.sweep import notify_sweep
from shared.escalations.runner import TimerRunner
from shared.jobs.base import JobHandler
from shared.jobs.sweeper import Sweeper
from shared.outbound.guard import OutboundClients, OutboundPolicy
from shared.pickup.links import PickUpLinks

log = logging.getLogger("handoff.notifier")
MAX_RETRY_DELAY_S = 300


def build_jobs(runtime: Runtime, outbound: OutboundClients) -> dict[str, JobHandler]:
    """The job of every registered channel."""
    settings = runtime.settings
    # A claimed row is taken over once its lease runs out: no send outlives a job's timeout.
    lease_s = settings.job_timeout_s
    notify = NotifyHandoff(
        runtime.sessionmaker,
        build_mailer(settings),
        public_url=settings.public_url,
        sender=settings.smtp_from,
        lease_s=lease_s,
        links=PickUpLinks.from_settings(settings),
    )
    box = SecretBox(settings.secret_key)
    push = PushToPSA(runtime.sessionmaker, box, outbound, public_url=settings.public_url, lease_s=lease_s)
    chat = PostToChat(
        runtime.sessionmaker, box, outbound, runtime.pace, public_url=settings.public_url, lease_s=lease_s
    )
    jobs: dict[str, JobHandler] = {"notify": notify, "psa_push": push, "chat_post": chat}
    missing = set(channel_jobs()) - set(jobs)
    assert not missing, f"no notifier job for {missing}"
    return jobs


def retry_delay(exc: Exception, attempt: int) -> float:
    """A channel that is down is given more time after each try; anything else a few seconds more."""
    if isinstance(exc, RetryLater):
        if exc.delay_s is not None:  # what the far end asked for (a Retry-After), or a destination's pace
            return min(float(MAX_RETRY_DELAY_S), max(1.0, exc.delay_s))
        return float(min(MAX_RETRY_DELAY_S, 2 ** min(attempt, 9)))
    return min(MAX_RETRY_DELAY_S, 5 * attempt)


def build(runtime: Runtime) -> worker.WorkerParts:
    settings = runtime.settings
    log.info("notifier: email via %s", settings.smtp_host or "files under var/mail/")
    # The only clients PSA, webhook and chat posts use: every target checked and pinned (API.md, Outbound safety).
    http = OutboundClients(OutboundPolicy.from_allow_list(settings.outbound_allow), timeout=15)
    sweeper = Sweeper(
        runtime.sessionmaker,
        runtime.jobs,
        sweeps=[notify_sweep(stale_after_s=settings.job_timeout_s + 10)],
        interval_s=settings.sweep_interval_s,
    )
    return worker.WorkerParts(
        queue="notify",
        jobs=build_jobs(runtime, http),
        job_timeout_s=settings.job_timeout_s,
        retry_delay=retry_delay,
        beside=[sweeper, TimerRunner(runtime.sessionmaker)],  # timers: reminders and stale-claim nudges
        closers=[http.aclose],
    )


async def attach_in_process(runtime: Runtime) -> None:
    """Run the notifier's jobs inside this process (the embedded default)."""
    worker.attach(runtime, build(runtime))


async def run_worker(settings: Settings) -> None:
    """Consume the notify queue until a signal stops the worker; Redis and database outages are waited out."""
    await worker.run_worker(settings, role="notifier", build=build, log=log, needs_secrets=True)
