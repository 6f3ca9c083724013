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
from functools import partial
from typing import Any

import msgspec
from litestar import Litestar, asgi
from litestar.types import Empty, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from services.handoff_api.auth import senior_guard
from services.handoff_api.dependencies import api_context, release_request_session
from services.handoff_api.error_body import send_error
from services.handoff_api.sse.direct import DirectWriter, direct_writer
from services.handoff_api.sse.hub import CLIENT_LEFT, SSEHub, Subscriber, TooManyStreams, event_frame
from services.handoff_api.sse.metrics import SSE_CLIENTS, SSE_DISCONNECTS
from services.handoff_api.uvicorn_private import server_send
from shared.auth.principal import Principal
from shared.bus.base import Bus, BusUnavailable, is_stream_id, parse_id

log = logging.getLogger("handoff.sse")

STREAM_LIMIT_RETRY_S = 5
REPLAY_PAGE = 500
# Frames joined into one write when a client has several waiting.
BATCH = 64
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (event.encode(), msgspec.json.encode(data))


class EscalationStream:
    """One client's stream: ready, replay after Last-Event-ID (or resync), then live events and pings.

    The writer runs in the request's own task, and under uvicorn's httptools it is the only one: the
    server's cycle tells of the client leaving (see `direct`); elsewhere a second task waits on `receive`
    for it. Frames go out through the server's own `send` once the response has started (the layers
    around it look at the response start only), or, live ones, straight from the hub (see `direct`).
    """

    __slots__ = ("account_id", "bus", "expires_at", "hub", "last_event_id", "max_streams", "user_id")

    def __init__(
        self,
        hub: SSEHub,
        bus: Bus,
        principal: Principal,
        last_event_id: str | None,
        *,
        expires_at: float | None = None,
        max_streams: int = 8,
    ) -> None:
        self.hub = hub
        self.bus = bus
        self.user_id: uuid.UUID = principal.user_id
        self.account_id = str(principal.account_id)
        self.last_event_id = last_event_id
        self.expires_at = expires_at
        self.max_streams = max_streams

    async def serve(self, receive: Receive, send: Send, body_send: Send) -> None:
        try:
            subscriber = await self.hub.subscribe(self.account_id, self.user_id, max_streams=self.max_streams)
        except TooManyStreams as exc:
            await self._refuse(send, 429, "rate_limited", str(exc), STREAM_LIMIT_RETRY_S)
            return
        except BusUnavailable:
            await self._refuse(send, 503, "unavailable", "the event bus is unavailable; retry shortly", None)
            return
        SSE_CLIENTS.inc()
        subscriber.writer = asyncio.current_task()
        direct = direct_writer(body_send)
        watcher = None
        if direct is not None:
            direct.on_client_left(partial(subscriber.drop, CLIENT_LEFT))
        else:
            watcher = asyncio.create_task(self._until_disconnect(receive, subscriber), name="sse-disconnect")
        if self.expires_at is not None:
            subscriber.expires_at = time.monotonic() + max(0.0, self.expires_at - time.time())
        try:
            await self._write(subscriber, send, body_send, direct)
        except asyncio.CancelledError:
            if subscriber.drop_reason is None:
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()  # our own cancel: the stream was dropped while a write was stuck
        except BusUnavailable:
            subscriber.drop("bus_unavailable")
        except Exception:
            log.exception("sse stream failed")
            subscriber.drop("error")
        finally:
            subscriber.writer = subscriber.direct = None
            self.hub.unsubscribe(subscriber)
            SSE_CLIENTS.dec()
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
        reason = subscriber.drop_reason
        if reason is not None and reason != CLIENT_LEFT:
            SSE_DISCONNECTS.labels(reason=reason).inc()
            with suppress(Exception):
                async with asyncio.timeout(0.5):
                    await body_send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _refuse(send: Send, status: int, code: str, detail: str, retry_after_s: int | None) -> None:
        if retry_after_s is None:
            await send_error(send, status, code, detail)
            return
        retry_after = [(b"retry-after", str(retry_after_s).encode())]
        await send_error(send, status, code, detail, headers=retry_after, retry_after_s=retry_after_s)

    @staticmethod
    async def _until_disconnect(receive: Receive, subscriber: Subscriber) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        subscriber.drop(CLIENT_LEFT)

    @staticmethod
    async def _send(subscriber: Subscriber, send: Send, body: bytes) -> None:
        """One write; the hub's keep-alive ends a stream whose write has not returned in time."""
        subscriber.sending_since = time.monotonic()
        try:
            await send({"type": "http.response.body", "body": body, "more_body": True})
        finally:
            subscriber.sending_since = None
        subscriber.last_write = time.monotonic()

    async def _write(self, subscriber: Subscriber, send: Send, body_send: Send, direct: DirectWriter | None) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        tip = await self.bus.tip(self.account_id)
        await self._send(subscriber, body_send, _frame("ready", {"account_id": self.account_id, "last_event_id": tip}))

        cursor = tip
        wanted = self.last_event_id
        if wanted is not None and wanted != tip:
            if is_stream_id(wanted) and not await self.bus.trimmed_after(self.account_id, wanted):
                cursor = wanted
            else:
                await self._send(
                    subscriber, body_send, _frame("resync", {"account_id": self.account_id, "last_event_id": tip})
                )
        subscriber.sent = await self._replay(subscriber, body_send, cursor)
        # From here the hub writes live frames itself while nothing is queued ahead of them; this task sends
        # what it queues instead (during the replay, or while flow control holds the socket) and the pings.
        subscriber.direct = direct

        while subscriber.drop_reason is None:
            frames = subscriber.frames
            if not frames:
                subscriber.frames = None  # an idle stream holds no buffer
                if subscriber.ping_due:
                    subscriber.ping_due = False
                    await self._send(subscriber, body_send, b": ping\n\n")
                    continue
                await subscriber.wait()
                continue
            subscriber.ping_due = False
            batch: list[bytes] = []
            while frames and len(batch) < BATCH:
                key, body = frames.popleft()
                if key > subscriber.sent:
                    batch.append(body)
                    subscriber.sent = key
            if batch:
                await self._send(subscriber, body_send, batch[0] if len(batch) == 1 else b"".join(batch))

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
                    await self._send(subscriber, send, b"".join(event_frame(e) for e in fresh))
                    last = parse_id(fresh[-1].id)
                cursor = entries[-1].id
            if not subscriber.lagged:
                # Checked with no await since the last read: every later event is in the buffer.
                subscriber.replaying = False
                return last


@asgi("/api/v1/ai-sessions/escalations/stream", guards=[senior_guard], copy_scope=False)
async def escalation_stream(scope: Scope, receive: Receive, send: Send) -> None:
    """Live escalation events of the caller's account."""
    # A stream holds no database connection while it is open, nor the session authentication read the directory in.
    await release_request_session(scope)
    context = api_context(Litestar.from_scope(scope))
    principal = scope["user"]
    assert isinstance(principal, Principal)
    claims = scope.get("auth") or {}
    exp = claims.get("exp") if isinstance(claims, dict) else None
    last_event_id = next((bytes(v).decode("latin-1") for k, v in scope["headers"] if k == b"last-event-id"), None)
    # The headers authentication parsed stay cached in the scope for as long as the stream is open: let them go.
    ScopeState.from_scope(scope).headers = Empty
    settings = context.settings
    stream = EscalationStream(
        context.hub,
        context.runtime.bus,
        principal,
        last_event_id.strip() if last_event_id else None,
        expires_at=float(exp) if isinstance(exp, int | float) else None,
        max_streams=settings.sse_max_streams_per_user,
    )
    await stream.serve(receive, send, server_send(scope) or send)
