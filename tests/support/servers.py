"""Serve an app with uvicorn inside the test's event loop, on a spare loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from services.handoff_api.dependencies import api_context
from services.handoff_api.server import HandoffServer
from tests.support.processes import spare_port
from tests.support.waiting import eventually


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[int]:
    port = spare_port()
    server = HandoffServer.for_app(app, host="127.0.0.1", port=port, log_level="WARNING")
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or task.done(), 30, "the server to start")
    if task.done():
        task.result()  # it failed to start: say why
    try:
        yield port
    finally:
        await api_context(app).hub.stop()
        server.should_exit = True
        await task
