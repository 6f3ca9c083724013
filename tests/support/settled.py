"""Conditions that prove nothing more is coming: a test awaits them (tests.support.waiting) before it asserts that
something did not happen, instead of sleeping for a while in case it might.

`outstanding` names the work a stack has left: once it is empty nothing is on its way (no row to publish, no
delivery pending or being sent, no timer due, no job queued or running), and nothing will be until a timer still
to come falls due. `pending_timers` names those still to come, for the handoffs a test watches.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg
import redis.asyncio

from shared.jobs.arq_private import running_key
from shared.jobs.base import JOB_QUEUES

COUNTS = {
    "outbox rows unpublished": "select count(*) from outbox where published_at is null and dead_at is null",
    "deliveries pending or sending": "select count(*) from deliveries where status in ('pending', 'sending')",
    "timers due": "select count(*) from handoff_timers where fired_at is null and cancelled_at is null"
    " and due_at <= now()",
}


def asyncpg_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://")


async def outstanding(database_url: str, redis_url: str, *, jobs: bool = True) -> list[str]:
    """What the stack still has to do; empty once it has done all it was asked to and no timer is due.

    `jobs=False` leaves arq's queue out: after a worker was SIGKILLed, the job it was running keeps its lease (the
    job timeout and 10 s) and counts as queued and running until then, though every row it had to send is sent."""
    waiting: list[str] = []
    db = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for what, query in COUNTS.items():
            if count := await db.fetchval(query):
                waiting.append(f"{count} {what}")
    finally:
        await db.close()
    if not jobs:
        return waiting
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        queued = sum([int(await client.zcard(queue)) for queue in set(JOB_QUEUES.values())])
        running = len([key async for key in client.scan_iter(match=running_key("*"), count=1000)])
    finally:
        await client.aclose()
    if queued or running:
        waiting.append(f"{queued} jobs queued, {running} running")
    return waiting


async def pending_timers(database_url: str, handoff_ids: Iterable[str], *kinds: str) -> list[str]:
    """The timers of these handoffs (of these kinds, or any) neither fired nor cancelled yet, due or not."""
    query = (
        "select kind, round, due_at from handoff_timers where fired_at is null and cancelled_at is null"
        " and handoff_id = any($1::uuid[])"
    )
    db = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await db.fetch(query, [uuid.UUID(h) for h in handoff_ids])
    finally:
        await db.close()
    return [f"{r['kind']} {r['round']} due at {r['due_at']}" for r in rows if not kinds or r["kind"] in kinds]


async def quiet(
    database_url: str, redis_url: str, handoff_ids: Iterable[str] = (), *kinds: str, jobs: bool = True
) -> bool:
    """True once nothing is outstanding and these handoffs have no timer (of these kinds) still to come."""
    return not await outstanding(database_url, redis_url, jobs=jobs) and not await pending_timers(
        database_url, handoff_ids, *kinds
    )
