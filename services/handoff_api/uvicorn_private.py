"""What the API relies on inside uvicorn beyond the ASGI spec and its documented API (tested on uvicorn 0.54).

- The live stream writes its frames through the server's own `send`, kept in the request scope's `state`
  by the edge: every layer between shares that one `state` dict, and uvicorn's `send` writes a body
  message to the socket as soon as it is given, whichever layer it came through.
- `Server._log_started_message(sockets)` logs the "running on" line, which uvicorn writes only for sockets
  it bound itself.
- `Server.handle_exit(sig, frame)` is the signal handler uvicorn installs while it serves, and
  `Server.started` turns true once it listens.

A new uvicorn may change any of these: the fence's test fails first, and `pyproject.toml` admits only the
uvicorn minor it passes on.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

import uvicorn
from litestar.types import Scope, Send

SERVER_SEND = "handoff.server_send"


def keep_server_send(scope: Scope, send: Send) -> None:
    """Keep the server's own `send` for the handler beneath every wrapper."""
    scope.setdefault("state", {})[SERVER_SEND] = send


def server_send(scope: Scope) -> Send | None:
    """The server's own `send`, beneath every wrapper: for a long stream's body, once its response has started."""
    found = scope.get("state", {}).get(SERVER_SEND)
    return found if callable(found) else None


def log_started(server: uvicorn.Server, sockets: Sequence[socket.socket]) -> None:
    """uvicorn's own "running on" line for `sockets`."""
    server._log_started_message(sockets)
