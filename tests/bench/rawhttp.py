"""A lean HTTP/1.1 client for load: one keep-alive socket per connection, requests written as bytes.

httpx costs the load generator about a millisecond of CPU per request; on a 2-core machine that
CPU is taken from the servers being measured. This client costs a few tens of microseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any


class RawConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        self.reader = reader
        self.writer = writer
        self.port = port

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
        return cls(reader, writer, port)

    def send(self, method: str, path: str, token: str, body: Any = None) -> None:
        """Write a request; `receive` reads its answer. Split so a race can write all before any reads."""
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)

    async def receive(self) -> tuple[int, Any]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), json.loads(body) if body else None

    async def request(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        self.send(method, path, token, body)
        return await self.receive()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
