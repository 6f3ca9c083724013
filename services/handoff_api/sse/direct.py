"""Writing a live frame straight to a stream's socket, from the hub, without waking the stream's task.

What this relies on inside uvicorn (tested on uvicorn 0.54, httptools): the server's own `send` (see
`services.handoff_api.uvicorn_private.server_send`) is a bound method of httptools' `RequestResponseCycle`,
whose `transport`, `flow.write_paused`, `chunked_encoding`, `disconnected` and `response_complete` say
what its `send` would do with a body: write it to the transport, chunked when the response is, unless
the client left. Once the response has started, writing the same bytes ourselves is what that `send`
does, minus a coroutine. tests/integration/test_sse_direct.py is the fence: a new uvicorn that changes
any of this fails there first.

Any other server (h11, or a HEAD answered without a body) has no direct writer: its frames go through
the stream's own task and `send`, as a paused transport's do.
"""

from __future__ import annotations

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


def direct_writer(send: Send) -> DirectWriter | None:
    """The direct writer behind the server's own `send`, or None when that is not httptools' cycle."""
    cycle = getattr(send, "__self__", None)
    if RequestResponseCycle is None or not isinstance(cycle, RequestResponseCycle):
        return None
    return DirectWriter(cycle)


def chunk_of(body: bytes) -> bytes:
    """`body` as one HTTP/1.1 chunk, as uvicorn writes it."""
    return b"%x\r\n%s\r\n" % (len(body), body)
