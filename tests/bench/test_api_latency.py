"""Latency of the write path on each backend: escalate (one transaction with its outbox rows) and claim.

In-process over ASGI, so the figures are the service's own work and its database, not the network.
"""

from __future__ import annotations

import statistics
import time

from shared.bootstrap import Runtime
from tests.bench.conftest import scale
from tests.support.tenants import TenantFactory

ROUNDS = scale(30, 100)


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{label}: p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms"


async def test_escalate_and_claim_latency(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create()
    junior, senior = tenant["junior"], tenant["senior"]
    sessions = [
        await junior.new_session(f"bench {n}", messages=[{"role": "engineer", "content": "x"}] * 20)
        for n in range(ROUNDS)
    ]

    escalate_ms, claim_ms = [], []
    for session in sessions:
        started = time.perf_counter()
        handoff = await junior.escalate(session["id"])
        escalate_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        response = await senior.post(f"/api/v1/handoffs/{handoff['id']}/claim")
        claim_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200

    backend = runtime.engine.dialect.name
    print(f"\n[{backend}] {summary('escalate', escalate_ms)}; {summary('claim', claim_ms)} ({ROUNDS} each)")
    assert len(escalate_ms) == len(claim_ms) == ROUNDS
