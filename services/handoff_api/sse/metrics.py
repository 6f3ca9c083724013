"""Prometheus figures of the live stream, served on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SSE_CLIENTS = Gauge("handoff_sse_clients", "Open SSE connections on this replica")
SSE_DISCONNECTS = Counter("handoff_sse_disconnects_total", "SSE connections closed by the server", ["reason"])
SSE_EVENTS = Counter("handoff_sse_events_total", "Events read from the bus and fanned out on this replica")
