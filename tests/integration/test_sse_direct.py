"""The fence around what the live feed's direct writes and its news of a client leaving rely on inside uvicorn
(`services.handoff_api.sse.direct`).

A frame written directly must reach the client exactly as uvicorn's own `send` would have written it: the
same chunked body, in order with what `send` wrote before and after it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Literal

import pytest
import uvicorn
from litestar import Litestar, asgi
from litestar.types import Receive, Scope, Send

from services.handoff_api.edge import Edge
from services.handoff_api.methods import RouteMethods
from services.handoff_api.sse.direct import DirectWriter, chunk_of, direct_writer
from services.handoff_api.uvicorn_private import server_send
from tests.support.waiting import eventually


def streaming_app(found: list[DirectWriter | None], done: asyncio.Event) -> Litestar:
    @asgi("/stream", copy_scope=False)
    async def stream(scope: Scope, receive: Receive, send: Send) -> None:
        body_send = server_send(scope)
        assert body_send is not None
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        writer = direct_writer(body_send)
        found.append(writer)
        await body_send({"type": "http.response.body", "body": b"first\n", "more_body": True})
        if writer is not None:
            assert writer.write(b"direct\n", chunk_of(b"direct\n"))
        await body_send({"type": "http.response.body", "body": b"last\n", "more_body": False})
        if writer is not None:
            assert not writer.write(b"late\n", chunk_of(b"late\n")), "a direct write after the response ended"
        done.set()

    app = Litestar(route_handlers=[stream], logging_config=None)
    app.asgi_handler = Edge(app.asgi_handler, allowed_origins=[], routes=RouteMethods(app.routes))
    return app


@asynccontextmanager
async def served(app: Litestar, http: Literal["httptools", "h11"]) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off", http=http))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: server.started or serving.done(), 30, "the server to start")
    if serving.done():
        serving.result()  # it failed to start: say why
    try:
        yield port
    finally:
        server.should_exit = True
        await serving


async def response(port: int, method: str = "GET", version: str = "1.1") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} /stream HTTP/{version}\r\nhost: localhost\r\nconnection: close\r\n\r\n".encode())
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


@pytest.mark.parametrize("version", ["1.1", "1.0"])
async def test_a_direct_write_is_the_chunk_send_would_write_in_its_place(version: str) -> None:
    found: list[DirectWriter | None] = []
    done = asyncio.Event()
    async with served(streaming_app(found, done), "httptools") as port:
        answer = await response(port, version=version)
        await asyncio.wait_for(done.wait(), 10)
    assert len(found) == 1
    assert found[0] is not None, "httptools' send is no longer the cycle's bound method"
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == b"6\r\nfirst\n\r\n7\r\ndirect\n\r\n5\r\nlast\n\r\n0\r\n\r\n"


async def test_no_direct_writer_under_h11_or_for_a_head() -> None:
    found: list[DirectWriter | None] = []
    done = asyncio.Event()
    async with served(streaming_app(found, done), "h11") as port:
        await response(port)
        await asyncio.wait_for(done.wait(), 10)
    async with served(streaming_app(found, done), "httptools") as port:
        done.clear()
        head = await response(port, method="HEAD")
        await asyncio.wait_for(done.wait(), 10)
    assert head.startswith(b"HTTP/1.1 200")
    assert found == [None, None]


def leaving_app(left: asyncio.Event, ended: asyncio.Event, *, end: bool) -> Litestar:
    """A stream told of its client leaving by the cycle; with `end`, it ends its response itself first."""

    @asgi("/stream", copy_scope=False)
    async def stream(scope: Scope, receive: Receive, send: Send) -> None:
        body_send = server_send(scope)
        assert body_send is not None
        writer = direct_writer(body_send)
        assert writer is not None
        writer.on_client_left(left.set)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await body_send({"type": "http.response.body", "body": b"first\n", "more_body": not end})
        if not end:
            with suppress(TimeoutError):  # a cycle that never tells ends here, and the test fails on `left`
                await asyncio.wait_for(left.wait(), 10)
        ended.set()

    app = Litestar(route_handlers=[stream], logging_config=None)
    app.asgi_handler = Edge(app.asgi_handler, allowed_origins=[], routes=RouteMethods(app.routes))
    return app


async def test_the_cycle_tells_of_the_client_leaving_and_not_of_the_response_ending() -> None:
    left, ended = asyncio.Event(), asyncio.Event()
    async with served(leaving_app(left, ended, end=False), "httptools") as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /stream HTTP/1.1\r\nhost: localhost\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b"first\n"), 10)
        assert not left.is_set()
        writer.close()
        await asyncio.wait_for(ended.wait(), 15)
    assert left.is_set(), "the cycle did not tell of the client leaving"

    left, ended = asyncio.Event(), asyncio.Event()
    async with served(leaving_app(left, ended, end=True), "httptools") as port:
        answer = await response(port)
        await asyncio.wait_for(ended.wait(), 10)
    assert answer.endswith(b"6\r\nfirst\n\r\n0\r\n\r\n")
    assert not left.is_set(), "the response's own end was taken for the client leaving"
