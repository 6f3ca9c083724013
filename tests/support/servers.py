"""Serve an app with uvicorn inside the test's event loop, on a spare loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from services.handoff_api.dependencies import api_context
from services.handoff_api.server import HandoffServer
from tests.support.processes import spare_port


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[int]:
    port = spare_port()
    server = HandoffServer.for_app(app, host="127.0.0.1", port=port, log_level="WARNING")
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        await api_context(app).hub.stop()
        server.should_exit = True
        await task
