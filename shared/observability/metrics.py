"""The service's Prometheus figures, and the worker's own `/metrics` server.

Every process registers the same names in the default registry; each serves what it counted itself.
"""

from __future__ import annotations

import logging

import prometheus_client
from prometheus_client import Counter, Gauge, Histogram

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


def serve_worker_metrics(port: int | None) -> None:
    """Serve this process's figures on `:<port>/metrics` (a thread of prometheus_client's); no port, no server."""
    if port is None:
        return
    prometheus_client.start_http_server(port, addr="0.0.0.0")  # noqa: S104 - scraped from the container network
    log.info("worker metrics on port %d", port, extra={"port": port})
