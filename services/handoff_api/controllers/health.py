"""Liveness and readiness, for the proxy and the orchestrator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.plugins.prometheus import PrometheusController
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.handoff_api.dependencies import ApiContext
from services.handoff_api.errors import error_response
from shared.db.migrate import current_revision, head_revision

PROBE_TIMEOUT_S = 2.0
HEAD = head_revision()


async def _database_and_schema(engine: AsyncEngine) -> tuple[bool, bool]:
    """Whether the database answers, and whether its schema is at the newest migration."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        revision = await current_revision(connection)
        await connection.rollback()
    return True, revision == HEAD


async def _within(probe: Callable[[], Awaitable[Any]]) -> Any:
    """The probe's answer, or None when it failed or did not answer within the probe timeout."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            return await probe()
    except Exception:  # noqa: BLE001 - any failure means not ready
        return None


class MetricsController(PrometheusController):
    """`/metrics`, for Prometheus: an operator's endpoint, like the probes, outside the API's description."""

    include_in_schema = False


class HealthController(Controller):
    tags = ["operations"]
    include_in_schema = False

    @get("/healthz", operation_id="healthz")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", operation_id="readyz")
    async def readyz(self, api_context: NamedDependency[ApiContext]) -> Response[dict[str, Any]]:
        """200 when the database (at the newest schema) and the bus answer; each probe has 2 s."""
        runtime = api_context.runtime
        names = list(runtime.readiness_probes)
        database, *others = await asyncio.gather(
            _within(lambda: _database_and_schema(runtime.engine)),
            *(_within(runtime.readiness_probes[name]) for name in names),
        )
        failed: list[str] = []
        if database is None:
            failed.append("database")
        elif not database[1]:
            failed.append("schema")
        failed += [name for name, answer in zip(names, others, strict=True) if not answer]
        if failed:
            detail = f"not ready: {', '.join(failed)} did not answer"
            if failed == ["schema"]:
                detail = "not ready: schema is not at the newest migration (run `handoff migrate`)"
            return error_response(503, "unavailable", detail, failed=failed)
        return Response({"status": "ok"}, status_code=200)
