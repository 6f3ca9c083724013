"""uvicorn, logging through the service's one setup, with open SSE streams ended as soon as shutdown begins.

What this relies on inside uvicorn is fenced in `services.handoff_api.uvicorn_private`.
"""

from __future__ import annotations

import asyncio
import socket
from types import FrameType

import uvicorn
from litestar import Litestar

from services.handoff_api.dependencies import api_context
from services.handoff_api.uvicorn_private import log_started
from shared.observability.logs import LogFormat, LogLevel, logging_config


class HandoffServer(uvicorn.Server):
    """uvicorn waits for open connections before it stops; SSE streams never end by themselves."""

    app: Litestar

    @classmethod
    def for_app(
        cls, app: Litestar, *, host: str, port: int, log_level: LogLevel = "INFO", log_format: LogFormat = "json"
    ) -> HandoffServer:
        # Proxy headers are honoured from the addresses in FORWARDED_ALLOW_IPS (uvicorn's own variable;
        # 127.0.0.1 when unset), so client addresses behind nginx are the clients', not the proxy's.
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=logging_config(log_level, log_format),
            log_level=log_level.lower(),
            proxy_headers=True,
            timeout_graceful_shutdown=5,
            lifespan="on",
        )
        server = cls(config)
        server.app = app
        return server

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # uvicorn names its address only for sockets it bound itself; `handoff` binds its own before start-up.
        if sockets and self.started:
            log_started(self, sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        hub = api_context(self.app).hub
        self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(hub.stop()))
        super().handle_exit(sig, frame)
