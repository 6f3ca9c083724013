"""`GET /api/v1/ai-sessions/escalations/stream`: the seniors' live feed, as Server-Sent Events.

A raw ASGI handler rather than a generator response: it watches for the client going away, puts a
timeout on every write, and always releases its subscription, even when the client vanishes mid-write.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import suppress
from typing import Any

import msgspec
from litestar import Litestar, asgi
from litestar.datastructures import Headers
from litestar.types import Receive, Scope, Send

from services.handoff_api.auth import senior_guard
from services.handoff_api.dependencies import api_context, release_request_session
from services.handoff_api.sse.hub import SSEHub, Subscriber, TooManyStreams, event_frame
from services.handoff_api.sse.metrics import SSE_CLIENTS, SSE_DISCONNECTS
from shared.auth.principal import Principal
from shared.bus.base import Bus, BusUnavailable, is_stream_id, parse_id

log = logging.getLogger("handoff.sse")

WRITE_TIMEOUT_S = 10.0
STREAM_LIMIT_RETRY_S = 5
REPLAY_PAGE = 500
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class WriteTimeout(Exception):
    """The client did not take a frame within the write timeout."""


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (event.encode(), msgspec.json.encode(data))


class EscalationStream:
    """One client's stream: ready, replay after Last-Event-ID (or resync), then live events and pings."""

    def __init__(
        self,
        hub: SSEHub,
        bus: Bus,
        principal: Principal,
        last_event_id: str | None,
        heartbeat_s: float,
        *,
        expires_at: float | None = None,
        max_streams: int = 8,
    ) -> None:
        self.hub = hub
        self.bus = bus
        self.user_id: uuid.UUID = principal.user_id
        self.account_id = str(principal.account_id)
        self.last_event_id = last_event_id
        self.heartbeat_s = heartbeat_s
        self.expires_at = expires_at
        self.max_streams = max_streams

    async def serve(self, receive: Receive, send: Send) -> None:
        try:
            subscriber = await self.hub.subscribe(self.account_id, self.user_id, max_streams=self.max_streams)
        except TooManyStreams as exc:
            await self._refuse(send, 429, "rate_limited", str(exc), STREAM_LIMIT_RETRY_S)
            return
        except BusUnavailable:
            await self._refuse(send, 503, "unavailable", "the event bus is unavailable; retry shortly", None)
            return
        SSE_CLIENTS.inc()
        tasks = {
            asyncio.create_task(self._write(subscriber, send), name="sse-write"),
            asyncio.create_task(self._until_disconnect(receive), name="sse-disconnect"),
            asyncio.create_task(subscriber.dropped.wait(), name="sse-dropped"),
        }
        if self.expires_at is not None:
            tasks.add(asyncio.create_task(asyncio.sleep(max(0.0, self.expires_at - time.time())), name="sse-expired"))
        try:
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            reason = self._reason(done, subscriber)
            if reason is not None:
                SSE_DISCONNECTS.labels(reason=reason).inc()
                with suppress(Exception):
                    async with asyncio.timeout(0.5):
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.hub.unsubscribe(subscriber)
            SSE_CLIENTS.dec()

    @staticmethod
    async def _refuse(send: Send, status: int, code: str, detail: str, retry_after_s: int | None) -> None:
        body: dict[str, Any] = {"status_code": status, "code": code, "detail": detail}
        headers = [(b"content-type", b"application/json")]
        if retry_after_s is not None:
            body["retry_after_s"] = retry_after_s
            headers.append((b"retry-after", str(retry_after_s).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": msgspec.json.encode(body), "more_body": False})

    @staticmethod
    def _reason(done: set[asyncio.Task[Any]], subscriber: Subscriber) -> str | None:
        """Why the server ends this stream; None when the client left."""
        for task in done:
            if task.get_name() == "sse-dropped":
                return subscriber.drop_reason or "dropped"
            if task.get_name() == "sse-expired":
                return "token_expired"
            if task.get_name() == "sse-write":
                error = task.exception()
                if isinstance(error, WriteTimeout):
                    return "write_timeout"
                if isinstance(error, BusUnavailable):
                    return "bus_unavailable"
                if error is not None:
                    log.error("sse stream failed", exc_info=error)
                    return "error"
        return None

    @staticmethod
    async def _until_disconnect(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    @staticmethod
    async def _send(send: Send, body: bytes) -> None:
        try:
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await send({"type": "http.response.body", "body": body, "more_body": True})
        except TimeoutError as exc:
            raise WriteTimeout from exc

    async def _write(self, subscriber: Subscriber, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        tip = await self.bus.tip(self.account_id)
        await self._send(send, _frame("ready", {"account_id": self.account_id, "last_event_id": tip}))

        cursor = tip
        wanted = self.last_event_id
        if wanted is not None and wanted != tip:
            if is_stream_id(wanted) and not await self.bus.trimmed_after(self.account_id, wanted):
                cursor = wanted
            else:
                await self._send(send, _frame("resync", {"account_id": self.account_id, "last_event_id": tip}))
        last = await self._replay(subscriber, send, cursor)

        while True:
            try:
                async with asyncio.timeout(self.heartbeat_s):
                    first = await subscriber.queue.get()
            except TimeoutError:
                await self._send(send, b": ping\n\n")
                continue
            batch = [first]
            while not subscriber.queue.empty() and len(batch) < 64:
                batch.append(subscriber.queue.get_nowait())
            fresh = [frame for frame in batch if frame[0] > last]
            if fresh:
                await self._send(send, b"".join(body for _, body in fresh))
                last = fresh[-1][0]

    async def _replay(self, subscriber: Subscriber, send: Send, cursor: str) -> tuple[int, int]:
        """Send what the stream holds after `cursor`; read again if live events overflowed meanwhile."""
        last = parse_id(cursor)
        while True:
            subscriber.lagged = False
            while True:
                entries = await self.bus.read_after(self.account_id, cursor, REPLAY_PAGE)
                if not entries:
                    break
                fresh = [e for e in entries if parse_id(e.id) > last]
                if fresh:
                    await self._send(send, b"".join(event_frame(e) for e in fresh))
                    last = parse_id(fresh[-1].id)
                cursor = entries[-1].id
            if not subscriber.lagged:
                # Checked with no await since the last read: every later event is in the queue.
                subscriber.replaying = False
                return last


@asgi("/api/v1/ai-sessions/escalations/stream", guards=[senior_guard], copy_scope=False)
async def escalation_stream(scope: Scope, receive: Receive, send: Send) -> None:
    """Live escalation events of the caller's account."""
    await release_request_session(scope)  # a stream holds no database connection while it is open
    context = api_context(Litestar.from_scope(scope))
    principal = scope["user"]
    assert isinstance(principal, Principal)
    claims = scope.get("auth") or {}
    exp = claims.get("exp") if isinstance(claims, dict) else None
    last_event_id = Headers.from_scope(scope).get("last-event-id") or None
    settings = context.settings
    stream = EscalationStream(
        context.hub,
        context.runtime.bus,
        principal,
        last_event_id.strip() if last_event_id else None,
        settings.sse_heartbeat_s,
        expires_at=float(exp) if isinstance(exp, int | float) else None,
        max_streams=settings.sse_max_streams_per_user,
    )
    await stream.serve(receive, send)
