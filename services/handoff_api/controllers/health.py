"""Liveness and readiness, for the proxy and the orchestrator."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State
from sqlalchemy import text


class HealthController(Controller):
    tags = ["operations"]
    include_in_schema = False

    @get("/healthz", operation_id="healthz")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", operation_id="readyz")
    async def readyz(self, state: State) -> Response[dict[str, Any]]:
        failed: list[str] = []
        try:
            async with state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure means not ready
            failed.append("database")
        for name, probe in state.readiness_probes.items():
            if not await probe():
                failed.append(name)
        if failed:
            detail = f"not ready: {', '.join(failed)} did not answer"
            return Response(
                {"status_code": 503, "code": "unavailable", "detail": detail, "failed": failed}, status_code=503
            )
        return Response({"status": "ok"}, status_code=200)
