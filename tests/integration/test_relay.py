"""The outbox relay: what committed is published after commit, promptly, once; what rolled back never is."""

from __future__ import annotations

import time

from arq.jobs import JobDef

from shared.bootstrap import Runtime
from shared.jobs.arq import arq_client
from shared.jobs.base import JOB_QUEUES
from shared.jobs.memory import InProcessJobQueue
from tests.support.db import outbox_rows
from tests.support.events import wait_for_events
from tests.support.tenants import TenantFactory
from tests.support.waiting import eventually


async def queued_job_ids(runtime: Runtime) -> set[str]:
    if isinstance(runtime.jobs, InProcessJobQueue):
        return runtime.jobs.job_ids()
    assert runtime.redis_pool is not None
    arq = arq_client(runtime.redis_pool)
    ids: set[str] = set()
    for queue in set(JOB_QUEUES.values()):
        ids |= {job.job_id for job in await arq.queued_jobs(queue_name=queue)}
    return ids


async def test_escalation_is_published_after_commit_with_its_jobs(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create()
    junior, senior = tenant["junior"], tenant["senior"]
    started = time.perf_counter()
    handoff = await junior.escalate((await junior.new_session("Outlook prompts for password"))["id"])
    events = await wait_for_events(runtime, str(tenant.account_id), 2)
    latency_ms = (time.perf_counter() - started) * 1000
    print(f"\n[{runtime.engine.dialect.name}] escalation request + relay to the stream: {latency_ms:.1f} ms")

    assert [e["type"] for e in events] == ["handoff_created", "handoff_paged"]
    assert events[0]["handoff_id"] == handoff["id"]
    assert events[1]["handoff_id"] == handoff["id"]
    assert events[0]["handoff"]["status"] == "open"
    # The jobs follow the event in the same batch, a moment later.
    jobs = {f"assess:{handoff['id']}", f"notify:{handoff['id']}", f"psa_push:{handoff['id']}"}

    async def all_queued() -> bool:
        return jobs <= await queued_job_ids(runtime)

    await eventually(all_queued, 5, f"the jobs {sorted(jobs)} to be queued")

    await senior.post(f"/api/v1/handoffs/{handoff['id']}/claim")
    events = await wait_for_events(runtime, str(tenant.account_id), 3)
    assert [e["type"] for e in events] == ["handoff_created", "handoff_paged", "handoff_claimed"]
    assert events[2]["handoff"]["claimed_by"]["id"] == str(senior.id)


async def test_a_park_publishes_nothing(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create()
    junior = tenant["junior"]
    session = await junior.new_session()
    assert (
        await junior.post(f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "park"})
    ).status_code == 201
    escalated = await junior.escalate((await junior.new_session())["id"])
    # The account's events go out in commit order: had the park written one, it would stand before these two.
    events = await wait_for_events(runtime, str(tenant.account_id), 2)
    assert [e["type"] for e in events] == ["handoff_created", "handoff_paged"]  # the escalation's, none of the park
    assert {e["handoff_id"] for e in events} == {escalated["id"]}


async def test_the_event_goes_out_as_written_and_only_its_jobs_carry_the_request_id(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await tenants.create()
    session = await tenant["junior"].new_session("VPN drops every ten minutes")
    traced = {"X-Request-ID": "trace-relay-7"}
    escalate = {"intent": "escalate", "note": "stuck"}
    path = f"/api/v1/ai-sessions/{session['id']}/handoff"
    response = await tenant["junior"].post(path, json=escalate, headers=traced)
    assert response.status_code == 201
    handoff_id = response.json()["id"]
    [published, published_paged] = await wait_for_events(runtime, str(tenant.account_id), 2)
    [written, written_paged] = [row for row in await outbox_rows(runtime, tenant.account_id) if row["kind"] == "event"]
    assert written["request_id"] == "trace-relay-7"
    assert {k: v for k, v in published.items() if k != "id"} == written["payload"]  # the event, as it was written
    assert {k: v for k, v in published_paged.items() if k != "id"} == written_paged["payload"]
    assert "request_id" not in published
    if runtime.redis_pool is not None:  # arq's queue shows what a worker will run; the in-process one does not
        arq = arq_client(runtime.redis_pool)

        async def assess_job() -> list[JobDef]:
            jobs = await arq.queued_jobs(queue_name=JOB_QUEUES["assess"])
            return [job for job in jobs if job.job_id == f"assess:{handoff_id}"]

        [assess] = await eventually(assess_job, 5, "the assess job to be queued")
        assert assess.args[0]["request_id"] == "trace-relay-7"
