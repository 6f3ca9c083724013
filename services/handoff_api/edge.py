"""The outermost layer of the API: request ids, CORS and the HTTP figures, for every response.

It wraps the whole Litestar application (routing, authentication and error handling included), so a
401 from the token check, a 404 for an unknown path and a refused preflight are counted, carry an
`X-Request-ID`, and are logged under it like any other answer.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from shared.observability.context import bound_request_id, new_request_id, valid_request_id
from shared.observability.metrics import HTTP_DURATION, HTTP_REQUESTS

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


SERVER_SEND = "handoff.server_send"


def server_send(scope: Scope) -> Send | None:
    """The server's own `send`, beneath every wrapper: for a long stream's body, once its response has started."""
    found = scope.get("state", {}).get(SERVER_SEND)
    return found if callable(found) else None


class Edge:
    """ASGI middleware around the Litestar app; `allowed_origins` may hold `*`."""

    def __init__(self, app: ASGIApp, *, allowed_origins: list[str]) -> None:
        self.app = app
        self.allow_any_origin = "*" in allowed_origins
        self.allowed_origins = set(allowed_origins)

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
        origin = _header(scope, b"origin")
        cors = origin is not None and self.origin_allowed(origin)

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
                if cors and origin is not None:
                    headers += [
                        (b"access-control-allow-origin", origin.encode("latin-1")),
                        (b"access-control-expose-headers", EXPOSED_HEADERS),
                        (b"vary", b"Origin"),
                    ]
                message = {**message, "headers": headers}
            await send(message)

        scope.setdefault("state", {})[SERVER_SEND] = send
        try:
            if scope["method"] == "OPTIONS" and origin is not None and _header(scope, b"access-control-request-method"):
                await self._preflight(scope, send_with_headers, origin)
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER"
            # The route's template, never the raw path: ids in paths would make a series per handoff.
            path = scope.get("path_template") or "unmatched"
            HTTP_REQUESTS.labels(method, path, str(status)).inc()
            HTTP_DURATION.labels(method, path).observe(time.perf_counter() - started)

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
            await _json(send, 403, {"status_code": 403, "code": "forbidden", "detail": refusal})
            return
        headers: list[tuple[bytes, bytes]] = [
            (b"access-control-allow-methods", ", ".join(ALLOWED_METHODS).encode()),
            (b"access-control-allow-headers", ", ".join(ALLOWED_HEADERS).encode()),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE_S),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = msgspec.json.encode(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})
