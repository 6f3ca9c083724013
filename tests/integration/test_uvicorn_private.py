"""The fence around uvicorn's internals: what `services.handoff_api.uvicorn_private` relies on, checked on uvicorn.

When one of these fails after a uvicorn upgrade, the live feed, the start-up line or the shutdown is wrong.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket

import pytest
import uvicorn
from litestar import Litestar, asgi
from litestar.types import Receive, Scope, Send

from services.handoff_api.edge import Edge
from services.handoff_api.methods import RouteMethods
from services.handoff_api.uvicorn_private import log_started, server_send
from tests.support.waiting import eventually


def streaming_app(first_read: asyncio.Event) -> Litestar:
    @asgi("/stream", copy_scope=False)
    async def stream(scope: Scope, receive: Receive, send: Send) -> None:
        body_send = server_send(scope)
        assert body_send is not None, "the edge's send did not reach the handler through the scope's state"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await body_send({"type": "http.response.body", "body": b"first\n", "more_body": True})
        await first_read.wait()  # the client has it while the response is still open: nothing was held back
        await body_send({"type": "http.response.body", "body": b"last\n", "more_body": False})

    app = Litestar(route_handlers=[stream], logging_config=None)
    app.asgi_handler = Edge(app.asgi_handler, allowed_origins=[], routes=RouteMethods(app.routes))
    return app


async def test_a_body_sent_through_the_kept_send_reaches_the_client_at_once() -> None:
    first_read = asyncio.Event()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(streaming_app(first_read), log_config=None, lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started or serving.done(), 10, "uvicorn to start")
        assert not serving.done()
        # uvicorn's own signal handler while it serves: HandoffServer extends it to end the live streams.
        assert signal.getsignal(signal.SIGTERM) == server.handle_exit
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /stream HTTP/1.1\r\nhost: localhost\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        assert b"first\n" in await asyncio.wait_for(reader.readuntil(b"first\n"), 10)
        first_read.set()
        assert b"last\n" in await asyncio.wait_for(reader.readuntil(b"last\n"), 10)
        writer.close()
    finally:
        server.should_exit = True
        await serving


def test_the_started_line_names_a_socket_bound_before_start(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        app = streaming_app(asyncio.Event())
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
        server.config.load()  # as start-up does before it logs
        with caplog.at_level(logging.INFO, logger="uvicorn.error"):
            log_started(server, [sock])
    assert f"Uvicorn running on http://127.0.0.1:{port}" in caplog.text
