"""The contract's error body, built here only: `{"status_code", "code", "detail"}` and the fields a case adds.

Litestar's handlers answer with `error_response` (in `errors`); the layers outside them (the edge, the live
stream's refusals) write it straight to ASGI with `send_error`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from litestar.types import Send

# A 5xx never says why: the edge logs the cause under the request id.
SERVER_FAILED = "the server could not complete the request"


def error_body(status_code: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The error body of the contract; `extra` adds a case's own fields (`retry_after_s`, `failed`, ...)."""
    return {"status_code": status_code, "code": code, "detail": detail, **extra}


async def send_error(
    send: Send, status_code: int, code: str, detail: str, *, headers: Sequence[tuple[bytes, bytes]] = (), **extra: Any
) -> None:
    """Answer with the error body over raw ASGI, for the layers outside Litestar's handlers."""
    payload = msgspec.json.encode(error_body(status_code, code, detail, **extra))
    start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status_code, "headers": [*start_headers, *headers]})
    await send({"type": "http.response.body", "body": payload, "more_body": False})
