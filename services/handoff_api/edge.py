"""The outermost layer of the API: request ids, CORS, `OPTIONS` and `HEAD`, the HTTP figures, 5xx logs.

It wraps the whole Litestar application (routing, authentication and error handling included), so a
401 from the token check, a 404 for an unknown path and a refused preflight are counted, carry an
`X-Request-ID`, and are logged under it like any other answer. A plain `OPTIONS` (no preflight) is
answered here from the routes; `HEAD` is served as `GET` without its body, on every path.
"""

from __future__ import annotations

import asyncio
import logging
import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPReceiveMessage, HTTPScope, Message, Receive, Scope, Send

from services.handoff_api.error_body import SERVER_FAILED, send_error
from services.handoff_api.methods import RouteMethods, allow_header
from services.handoff_api.uvicorn_private import keep_server_send
from shared.observability.context import bound_request_id, new_request_id, valid_request_id
from shared.observability.metrics import HTTP_DURATION, HTTP_REQUESTS

log = logging.getLogger("handoff.api")

ALLOWED_METHODS = ("GET", "POST", "PUT", "DELETE")
ALLOWED_HEADERS = ("authorization", "content-type", "last-event-id", "x-request-id")
EXPOSED_HEADERS = b"X-Request-ID, Retry-After"
PREFLIGHT_MAX_AGE_S = b"600"
KNOWN_METHODS = {*ALLOWED_METHODS, "HEAD", "OPTIONS", "PATCH"}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


# The method the client sent, where the handler sees another (a HEAD is served as GET).
CLIENT_METHOD = "handoff.client_method"


def client_method(scope: Scope) -> str:
    """The method the client sent: `HEAD` for a HEAD, although the handler beneath is routed as `GET`."""
    method = scope.get("state", {}).get(CLIENT_METHOD) or scope.get("method", "")
    return str(method)


# Where the error handlers leave the exception behind a 5xx, for the edge to log with its traceback.
SERVER_ERROR = "handoff.server_error"


def note_server_error(scope: Scope, exc: BaseException) -> None:
    """Leave the exception behind a 5xx answer for the edge's log line."""
    scope.setdefault("state", {})[SERVER_ERROR] = exc


class Edge:
    """ASGI middleware around the Litestar app; `allowed_origins` may hold `*`."""

    def __init__(self, app: ASGIApp, *, allowed_origins: list[str], routes: RouteMethods) -> None:
        self.app = app
        self.allow_any_origin = "*" in allowed_origins
        self.allowed_origins = set(allowed_origins)
        self.routes = routes

    def origin_allowed(self, origin: str) -> bool:
        return self.allow_any_origin or origin in self.allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming is not None and valid_request_id(incoming) else new_request_id()
        with bound_request_id(request_id):
            await self._handle(scope, receive, send, request_id)

    async def _handle(self, scope: HTTPScope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        status = 500
        response_started = cancelled = False
        origin = _header(scope, b"origin")
        cors = origin is not None and self.origin_allowed(origin)
        method = scope["method"]

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = [(k, _with_head(v) if k.lower() == b"allow" else v) for k, v in message.get("headers", ())]
                headers.append((b"x-request-id", request_id.encode()))
                if cors and origin is not None:
                    headers += [
                        (b"access-control-allow-origin", origin.encode("latin-1")),
                        (b"access-control-expose-headers", EXPOSED_HEADERS),
                        (b"vary", b"Origin"),
                    ]
                message = {**message, "headers": headers}
            await send(message)

        keep_server_send(scope, send)
        state = scope["state"]
        inner: HTTPScope = scope
        app_receive, app_send = receive, send_with_headers
        if method == "HEAD":
            inner = {**scope, "method": "GET"}  # the same state: routing and errors still reach it
            state[CLIENT_METHOD] = method
            head = _Head(send_with_headers)
            app_receive, app_send = head.receive, head.send
            keep_server_send(scope, head.body_send)
        try:
            if method == "OPTIONS" and not (origin is not None and _header(scope, b"access-control-request-method")):
                await self._options(scope, send_with_headers)
            elif method == "OPTIONS" and origin is not None:
                await self._preflight(scope, send_with_headers, origin)
            elif (allowed := self.routes.of(scope["path"])) is not None and inner["method"] not in allowed:
                # The router's own 405, for the live stream too: a raw ASGI handler would take any method.
                allow = [(b"allow", allow_header(allowed).encode())]
                await send_error(send_with_headers, 405, "method_not_allowed", "Method Not Allowed", headers=allow)
            else:
                await self.app(inner, app_receive, app_send)
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception as exc:  # noqa: BLE001 - whatever escaped every handler still gets an answer and a log
            note_server_error(scope, exc)
            if not response_started:
                await send_error(send_with_headers, 500, "internal_error", SERVER_FAILED)
            status = 500
        finally:
            label = method if method in KNOWN_METHODS else "OTHER"
            # The route's template, never the raw path: ids in paths would make a series per handoff.
            path = inner.get("path_template") or "unmatched"
            HTTP_REQUESTS.labels(label, path, str(status)).inc()
            HTTP_DURATION.labels(label, path).observe(time.perf_counter() - started)
            if status >= 500 and not cancelled:  # a request cancelled at shutdown never answered: no 5xx of ours
                error = state.pop(SERVER_ERROR, None)
                crashed = isinstance(error, BaseException)
                # A 5xx a handler chose (not ready, the bus unavailable) is a warning; one from an exception an error.
                log.log(
                    logging.ERROR if crashed else logging.WARNING,
                    "server error: %s %s answered %s",
                    method,
                    path,
                    status,
                    exc_info=error if crashed else None,
                    extra={"status": status, "method": method, "path": path, "request_id": request_id},
                )

    async def _options(self, scope: Scope, send: Send) -> None:
        """A plain `OPTIONS`: 204 with the route's `Allow`, or the 404 any method gets for a path of no route."""
        methods = self.routes.of(scope["path"], typed=False)
        if methods is None:
            await send_error(send, 404, "not_found", "no such path")
            return
        headers = [(b"allow", allow_header(methods).encode())]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _preflight(self, scope: Scope, send: Send, origin: str) -> None:
        """Answer a browser's CORS preflight: 204 for a listed origin asking for what we allow, else 403."""
        method = (_header(scope, b"access-control-request-method") or "").strip().upper()
        asked = [h.strip().lower() for h in (_header(scope, b"access-control-request-headers") or "").split(",")]
        asked = [h for h in asked if h]
        refusal = None
        if not self.origin_allowed(origin):
            refusal = "this origin may not call the API from a browser (see HANDOFF_CORS_ORIGINS)"
        elif method not in ALLOWED_METHODS:
            refusal = f"method {method or '(none)'} is not allowed from a browser"
        elif any(h not in ALLOWED_HEADERS for h in asked):
            refusal = f"only the headers {', '.join(ALLOWED_HEADERS)} may be sent from a browser"
        if refusal is not None:
            await send_error(send, 403, "forbidden", refusal)
            return
        headers: list[tuple[bytes, bytes]] = [
            (b"access-control-allow-methods", ", ".join(ALLOWED_METHODS).encode()),
            (b"access-control-allow-headers", ", ".join(ALLOWED_HEADERS).encode()),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE_S),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _with_head(allow: bytes) -> bytes:
    """A 405's `Allow` lists HEAD wherever it lists GET."""
    return allow_header(m.strip() for m in allow.decode("latin-1").split(",") if m.strip()).encode()


class _Head:
    """`HEAD` served as `GET`: the same status and headers, no body; the handler hears the client leave once
    they are sent, so a stream (the live feed) ends instead of running on."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._answered = asyncio.Event()
        self._asked = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._send(message)
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})
            self._answered.set()
        # Bodies are dropped: the response already ended with the start.

    async def body_send(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            await self.send(message)

    async def receive(self) -> HTTPReceiveMessage:
        if not self._asked:  # a HEAD carries no body
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._answered.wait()
        return {"type": "http.disconnect"}
