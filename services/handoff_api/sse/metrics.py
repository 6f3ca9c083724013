"""Prometheus figures of the live stream, served on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.observability.metrics import LATENCY_BUCKETS

SSE_CLIENTS = Gauge("handoff_sse_clients", "Open SSE connections on this replica")
SSE_DISCONNECTS = Counter("handoff_sse_disconnects_total", "SSE connections closed by the server", ["reason"])
SSE_EVENTS = Counter("handoff_sse_events_total", "Events read from the bus and fanned out on this replica")
SSE_EVENT_LATENCY = Histogram(
    "handoff_sse_event_latency_seconds",
    "From an event's occurred_at (the change that caused it) to its frame leaving this replica's hub, by type",
    ["type"],
    buckets=LATENCY_BUCKETS,
)
