"""Writing a live frame straight to a stream's socket, from the hub, without waking the stream's task.

What this relies on inside uvicorn (tested on uvicorn 0.54, httptools): the server's own `send` (see
`services.handoff_api.uvicorn_private.server_send`) is a bound method of httptools' `RequestResponseCycle`,
whose `transport`, `flow.write_paused`, `chunked_encoding`, `disconnected` and `response_complete` say
what its `send` would do with a body: write it to the transport, chunked when the response is, unless
the client left. Once the response has started, writing the same bytes ourselves is what that `send`
does, minus a coroutine. tests/integration/test_sse_direct.py is the fence: a new uvicorn that changes
any of this fails there first.

The same cycle tells of the client leaving without a task waiting on `receive` for it: uvicorn's
`connection_lost` marks the cycle `disconnected`, then sets its `message_event`, the event `receive`
waits on. Once nothing will call `receive` again (the stream never reads a body), that event is
replaced by one whose `set` tells the stream, at once, and which costs less than asyncio's own.

Any other server (h11, or a HEAD answered without a body) has no direct writer: its frames go through
the stream's own task and `send`, as a paused transport's do, and a task of the stream's waits on
`receive` for the client leaving.
"""

from __future__ import annotations

from collections.abc import Callable

from litestar.types import Send

try:
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle
except ImportError:  # pragma: no cover - uvicorn without httptools serves with h11
    RequestResponseCycle = None  # type: ignore[assignment,misc]


class DirectWriter:
    """One started response's body, written to its transport as uvicorn's own `send` would write it."""

    __slots__ = ("_cycle",)

    def __init__(self, cycle: RequestResponseCycle) -> None:
        self._cycle = cycle

    def on_client_left(self, left: Callable[[], None]) -> None:
        """Call `left` as soon as the client goes away (now, if it has); `receive` must not be called after."""
        cycle = self._cycle
        cycle.message_event = _ClientLeft(cycle, left)  # type: ignore[assignment]
        if cycle.disconnected:
            left()

    def write(self, body: bytes, chunk: bytes) -> bool:
        """Write `body` (`chunk` is the same body chunk-encoded); False when only `send` may: flow control
        holds the transport, or the response ended. Nothing is written, and True, once the client left."""
        cycle = self._cycle
        if cycle.disconnected:
            return True  # as `send` does: the disconnect ends the stream
        if cycle.flow.write_paused or cycle.response_complete or not cycle.response_started:
            return False
        cycle.transport.write(chunk if cycle.chunked_encoding else body)
        return True


class _ClientLeft:
    """The cycle's `message_event` once the body has been read: `set` by uvicorn when the client leaves (and when
    the response ends, which is not the client leaving). Nothing may wait on it."""

    __slots__ = ("_cycle", "_left")

    def __init__(self, cycle: RequestResponseCycle, left: Callable[[], None]) -> None:
        self._cycle = cycle
        self._left: Callable[[], None] | None = left

    def set(self) -> None:
        left = self._left
        if left is not None and self._cycle.disconnected:
            self._left = None
            left()

    def clear(self) -> None:
        pass

    def is_set(self) -> bool:
        return self._cycle.disconnected

    async def wait(self) -> None:
        raise RuntimeError("the stream's request is not read after it has started")


def direct_writer(send: Send) -> DirectWriter | None:
    """The direct writer behind the server's own `send`, or None when that is not httptools' cycle."""
    cycle = getattr(send, "__self__", None)
    if RequestResponseCycle is None or not isinstance(cycle, RequestResponseCycle):
        return None
    return DirectWriter(cycle)


def chunk_of(body: bytes) -> bytes:
    """`body` as one HTTP/1.1 chunk, as uvicorn writes it."""
    return b"%x\r\n%s\r\n" % (len(body), body)
