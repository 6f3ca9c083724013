"""A small SSE client over a raw socket: it sends the Authorization header, reads chunked frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Frame:
    event: str | None = None
    id: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return json.loads(self.data)


class SSEClient:
    """One connection to the stream endpoint. `frames()` yields events; comments are kept on `pings`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.status = 0
        self.headers: dict[str, str] = {}
        self.pings = 0
        self._buffer = b""
        self._chunk_left = 0
        self._eof = False

    @classmethod
    async def connect(
        cls,
        port: int,
        token: str | None,
        *,
        last_event_id: str | None = None,
        host: str = "127.0.0.1",
        receive_buffer: int | None = None,
    ) -> SSEClient:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**20)
        lines = [
            "GET /api/v1/ai-sessions/escalations/stream HTTP/1.1",
            f"Host: {host}:{port}",
            "Accept: text/event-stream",
        ]
        if token is not None:
            lines.append(f"Authorization: Bearer {token}")
        if last_event_id is not None:
            lines.append(f"Last-Event-ID: {last_event_id}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        client = cls(reader, writer)
        await client._read_head()
        return client

    async def _read_head(self) -> None:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode().split("\r\n")
        self.status = int(status_line.split()[1])
        for line in header_lines:
            if ":" in line:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()

    async def body(self) -> bytes:
        """The whole (non-streaming) body, for error answers."""
        if self.headers.get("transfer-encoding") == "chunked":
            chunks = b""
            while not self._eof:
                chunks += await self._next_chunk()
            return chunks
        return await self.reader.readexactly(int(self.headers.get("content-length", "0")))

    async def _next_chunk(self) -> bytes:
        size_line = await self.reader.readuntil(b"\r\n")
        size = int(size_line.strip().split(b";")[0], 16)
        if size == 0:
            self._eof = True
            await self.reader.readuntil(b"\r\n")
            return b""
        data = await self.reader.readexactly(size + 2)
        return data[:-2]

    async def next_frame(self, timeout: float = 10.0) -> Frame:
        """The next event frame (skipping `: ping` comments, which are counted)."""
        async with asyncio.timeout(timeout):
            while True:
                while b"\n\n" not in self._buffer:
                    if self._eof:
                        raise EOFError("the server ended the stream")
                    self._buffer += await self._next_chunk()
                raw, self._buffer = self._buffer.split(b"\n\n", 1)
                frame = Frame()
                for line in raw.decode().split("\n"):
                    if line.startswith(":"):
                        frame.comments.append(line[1:].strip())
                    elif line.startswith("id: "):
                        frame.id = line[4:]
                    elif line.startswith("event: "):
                        frame.event = line[7:]
                    elif line.startswith("data: "):
                        frame.data += line[6:]
                if frame.event is None and frame.comments:
                    self.pings += frame.comments.count("ping")
                    continue
                return frame

    async def events(self, count: int, timeout: float = 10.0) -> list[Frame]:
        return [await self.next_frame(timeout) for _ in range(count)]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
