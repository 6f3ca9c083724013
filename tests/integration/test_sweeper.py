"""The sweeper queues again what a lost or exhausted job left pending, and never doubles live work."""

from __future__ import annotations

import msgspec
import pytest
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix

from services.notifier.mailers import SMTPMailer
from services.notifier.service import NotifyHandoff, RetryLater
from shared.assessments.sweep import assess_sweep
from shared.bootstrap import Runtime
from shared.deliveries.sweep import notify_sweep
from shared.jobs.arq import ArqJobQueue
from shared.jobs.base import JOB_QUEUES, JobQueue
from shared.jobs.memory import InProcessJobQueue
from shared.jobs.sweeper import Sweeper
from tests.support.smtp import SMTPServer
from tests.support.tenants import TenantFactory
from tests.support.waiting import eventually


async def queue_that_lost(runtime: Runtime, handoff_ids: list[str]) -> JobQueue:
    """The job queue after the jobs of these handoffs were lost (a restarted process, a flushed Redis)."""
    if runtime.redis_pool is None:
        return InProcessJobQueue()  # a restarted embedded process starts with an empty queue
    redis = ArqRedis(connection_pool=runtime.redis_pool)
    queue = ArqJobQueue(runtime.redis_pool)
    wanted = {f"{job}:{h}" for h in handoff_ids for job in ("assess", "notify", "psa_push")}

    async def all_queued() -> bool:  # the relay publishes them just after the commit
        return wanted <= await queued(queue)

    await eventually(all_queued, 10, "the relay to publish the jobs")
    for handoff_id in handoff_ids:
        for job in ("assess", "notify", "psa_push"):
            job_id = f"{job}:{handoff_id}"
            prefixes = (job_key_prefix, in_progress_key_prefix, result_key_prefix, retry_key_prefix)
            await redis.delete(*(prefix + job_id for prefix in prefixes))
            await redis.zrem(JOB_QUEUES[job], job_id)
    return queue


async def queued(queue: JobQueue) -> set[str]:
    if isinstance(queue, InProcessJobQueue):
        return queue.job_ids()
    assert isinstance(queue, ArqJobQueue)
    ids: set[str] = set()
    for name in set(JOB_QUEUES.values()):
        ids |= {job.job_id for job in await queue.redis.queued_jobs(queue_name=name)}
    return ids


def sweeper(runtime: Runtime, queue: JobQueue, *, stale_after_s: float, idle_s: float = 5.0) -> Sweeper:
    return Sweeper(
        runtime.sessionmaker,
        queue,
        sweeps=[assess_sweep(stale_after_s=stale_after_s), notify_sweep(stale_after_s=stale_after_s, idle_s=idle_s)],
        interval_s=60,
    )


async def test_lost_jobs_of_an_escalation_are_queued_again_once(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create()
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session("Lost in a Redis restart"))["id"])
    queue = await queue_that_lost(runtime, [handoff["id"]])
    lost = {f"{job}:{handoff['id']}" for job in ("assess", "notify", "psa_push")}
    assert not lost & await queued(queue)

    # Step 0 wrote the emails' rows with the escalation: the lost `notify` is found by its rows left pending.
    sweep = sweeper(runtime, queue, stale_after_s=0, idle_s=0)
    first = await sweep.sweep()
    assert lost <= await queued(queue)  # its assessment, its emails and its PSA note
    second = await sweep.sweep()
    print(f"\n[{runtime.engine.dialect.name}] first sweep queued {first} jobs again, the second {second}")
    assert second == 0  # still queued: nothing is doubled


async def test_pending_deliveries_whose_job_is_gone_are_queued_again(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create()
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session("SMTP was down"))["id"])
    down = SMTPServer()  # never started: nothing listens
    settings = msgspec.structs.replace(
        runtime.settings, smtp_host="127.0.0.1", smtp_port=down.port, smtp_starttls=False
    )
    notify = NotifyHandoff(
        runtime.sessionmaker,
        SMTPMailer(settings, timeout_s=2),
        public_url="https://h.test",
        sender="h@msp.test",
        assessment_wait_s=0,
    )
    with pytest.raises(RetryLater):
        await notify({"handoff_id": handoff["id"]})  # the job's last try: the row stays pending
    queue = await queue_that_lost(runtime, [handoff["id"]])

    # Only the delivery rule applies here: the escalation is far younger than `stale_after_s`.
    sweep = sweeper(runtime, queue, stale_after_s=3600, idle_s=0)
    await sweep.sweep()
    ids = await queued(queue)
    assert f"notify:{handoff['id']}" in ids
    assert f"assess:{handoff['id']}" not in ids
