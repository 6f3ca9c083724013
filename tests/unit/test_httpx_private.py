"""The fence around httpx's internals: a transport dials through our network backend, as the outbound guard needs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from shared.outbound.httpx_private import BackendTransport


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, noting every address it is asked to dial."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.dialled: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.dialled.append((host, port))
        return await self.inner.connect_tcp(host, port, timeout=timeout, local_address=local_address)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)  # passed on: the backend's sleep, asked for by httpcore


def test_httpx_keeps_its_connection_pool_where_the_fence_replaces_it() -> None:
    pool = vars(httpx.AsyncHTTPTransport()).get("_pool")
    assert isinstance(pool, httpcore.AsyncConnectionPool), "httpx no longer keeps its pool in `_pool`"


async def test_requests_go_through_the_given_backend_and_closing_the_client_closes_its_connections() -> None:
    closed = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read()  # kept alive until the client closes it
        closed.set()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    backend = RecordingBackend()
    try:
        async with httpx.AsyncClient(transport=BackendTransport(backend)) as client:
            response = await client.get(f"http://127.0.0.1:{port}/")
            assert (response.status_code, response.text) == (200, "ok")
        assert backend.dialled == [("127.0.0.1", port)]
        await asyncio.wait_for(closed.wait(), 5)
    finally:
        server.close()
        await server.wait_closed()
