"""What the outbound guard relies on inside httpx beyond its documented API (tested on httpx 0.28).

`httpx.AsyncHTTPTransport` sends every request through its `_pool` attribute (an httpcore connection pool),
maps requests and responses around it, and closes it in `aclose`; it takes no network backend of its own.
So a transport that must dial through our backend builds that pool itself and skips the parent's
`__init__`. A new httpx may rename or rework `_pool`: the fence's test fails first, and `pyproject.toml`
admits only the httpx minor it passes on.
"""

from __future__ import annotations

import ssl

import httpcore
import httpx


class BackendTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, dialling every connection through `network_backend`, with httpx's default limits."""

    def __init__(self, network_backend: httpcore.AsyncNetworkBackend, *, verify: ssl.SSLContext | bool = True) -> None:
        # Not super().__init__: it would build its own pool on httpcore's default backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=network_backend,
        )
