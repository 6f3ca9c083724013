"""The Python floor for SSE fan-out: a minimal uvicorn + Starlette endpoint fed by the same XREAD.

    python tests/bench/floor_sse.py --port P --redis-url URL --account ID

One task blocks on `XREAD` of the account's stream and puts each entry, framed once, on every
client's queue; each client is a Starlette `StreamingResponse`. No auth, no replay, no limits:
what any Python SSE service pays at least, under the same uvicorn (uvloop, httptools) as ours.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator

import redis.asyncio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

PATH = "/api/v1/ai-sessions/escalations/stream"
# In the order the streams opened, as the service's hub has them: fan-out serves them in turn.
clients: dict[asyncio.Queue[bytes], None] = {}


async def tail(url: str, key: str) -> None:
    client = redis.asyncio.Redis.from_url(url, socket_timeout=30, client_name="handoff-bench-floor")
    newest = await client.xrevrange(key, count=1)
    cursor = newest[0][0] if newest else b"0-0"
    while True:
        found = await client.xread({key: cursor}, block=5000, count=500)
        for _, entries in found or []:
            for entry_id, fields in entries:
                cursor = entry_id
                frame = b"id: %s\nevent: %s\ndata: %s\n\n" % (entry_id, fields[b"type"], fields[b"data"])
                for queue in clients:
                    with contextlib.suppress(asyncio.QueueFull):
                        queue.put_nowait(frame)


async def stream(_: Request) -> StreamingResponse:
    queue: asyncio.Queue[bytes] = asyncio.Queue(64)

    async def frames() -> AsyncIterator[bytes]:
        clients[queue] = None
        try:
            yield b"event: ready\ndata: {}\n\n"
            while True:
                yield await queue.get()
        finally:
            clients.pop(queue, None)

    return StreamingResponse(frames(), media_type="text/event-stream")


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--account", required=True)
    args = parser.parse_args()
    key = f"handoff:events:{{{args.account}}}"

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(tail(args.redis_url, key))
        yield
        task.cancel()

    app = Starlette(routes=[Route(PATH, stream), Route("/healthz", healthz)], lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
