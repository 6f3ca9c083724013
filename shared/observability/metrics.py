"""The service's Prometheus figures, and the worker's own `/metrics` server.

Every process registers the same names in the default registry; each serves what it counted itself.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import UTC

import prometheus_client
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import utcnow
from shared.db.uow import read_only
from shared.outbox.table import OutboxRow

log = logging.getLogger("handoff.metrics")

# A `_created` twin of every counter doubles the series and tells an operator nothing.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

HTTP_REQUESTS = Counter(
    "handoff_http_requests_total", "HTTP responses, by method, route and status", ["method", "path", "status"]
)
HTTP_DURATION = Histogram(
    "handoff_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "path"],
    buckets=LATENCY_BUCKETS,
)
OUTBOX_LAG = Gauge("handoff_outbox_lag_seconds", "Age of the oldest outbox row not yet published (0 when none)")
JOBS_STARTED = Counter("handoff_jobs_started_total", "Worker jobs started", ["function"])
JOBS_SUCCEEDED = Counter("handoff_jobs_succeeded_total", "Worker jobs that finished", ["function"])
JOBS_RETRIED = Counter("handoff_jobs_retried_total", "Worker job runs that will be tried again", ["function"])
JOBS_FAILED = Counter("handoff_jobs_failed_total", "Worker jobs given up", ["function"])
JOB_DURATION = Histogram(
    "handoff_job_duration_seconds", "Time one job run took, by outcome", ["function", "outcome"], buckets=JOB_BUCKETS
)
DELIVERIES = Counter(
    "handoff_deliveries_total", "Delivery attempts recorded, by channel and outcome", ["channel", "outcome"]
)
ASSESSMENT_DURATION = Histogram(
    "handoff_assessment_duration_seconds",
    "Time an AI provider took to assess, by provider and result",
    ["provider", "status"],
    buckets=JOB_BUCKETS,
)

OUTBOX_LAG_INTERVAL_S = 5.0
PROBE_TIMEOUT_S = 2.0


async def outbox_lag_seconds(sessionmaker: async_sessionmaker[AsyncSession]) -> float:
    """Seconds since the oldest unpublished outbox row was written; 0 when every row is out."""
    async with read_only(sessionmaker) as db:
        query = select(OutboxRow.created_at).where(OutboxRow.published_at.is_(None)).order_by(OutboxRow.id).limit(1)
        oldest = await db.scalar(query)
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (utcnow() - oldest).total_seconds())


class OutboxLagSampler:
    """Keeps `handoff_outbox_lag_seconds` current: one small indexed query every few seconds."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], interval_s: float = OUTBOX_LAG_INTERVAL_S):
        self.sessionmaker = sessionmaker
        self.interval_s = interval_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-lag")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({self._task}, timeout=PROBE_TIMEOUT_S + 1)
        if not done:
            self._task.cancel()
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    OUTBOX_LAG.set(await outbox_lag_seconds(self.sessionmaker))
            except Exception as exc:  # noqa: BLE001 - a figure we could not read this time; the next try may
                log.debug("outbox lag not sampled: %s", exc)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)


def serve_worker_metrics(port: int | None) -> None:
    """Serve this process's figures on `:<port>/metrics` (a thread of prometheus_client's); no port, no server."""
    if port is None:
        return
    prometheus_client.start_http_server(port, addr="0.0.0.0")  # noqa: S104 - scraped from the container network
    log.info("worker metrics on port %d", port, extra={"port": port})
