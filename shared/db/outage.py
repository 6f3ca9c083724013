"""A database that cannot be reached for a moment: ridden out when a connection opens, named when it cannot be.

PostgreSQL restarts, fails over, and sits behind proxies that drop connections: a new connection is tried
again for a few seconds before the caller hears of it, so a short blip costs a request some latency instead
of an error. What still fails (the database away for longer, or a connection cut in the middle of a
statement) is an outage, not a fault of the request: `is_database_outage` tells the API to answer 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger("handoff.db")

# How long a new connection is tried for before the caller hears the database is down.
CONNECT_PATIENCE_S = 10.0
FIRST_PAUSE_S = 0.1
LONGEST_PAUSE_S = 1.0
# What a connection attempt raises while the server is away: refused or reset, starting up or shutting down,
# or out of connection slots.
_UNREACHABLE = (
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


def patient(
    connect: Callable[..., Awaitable[Any]], *, within_s: float = CONNECT_PATIENCE_S
) -> Callable[..., Awaitable[Any]]:
    """`connect`, tried again with growing pauses while the server is unreachable, for up to `within_s` seconds."""

    async def connect_patiently(*args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        pause = FIRST_PAUSE_S
        while True:
            try:
                return await connect(*args, **kwargs)
            except _UNREACHABLE as exc:
                if loop.time() + pause > deadline:
                    raise
                log.warning("database unreachable (%s); trying again in %.1f s", type(exc).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(LONGEST_PAUSE_S, pause * 2)

    return connect_patiently


def is_database_outage(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached or dropped the connection, rather than refused the work."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        # The driver's error arrives wrapped by SQLAlchemy's adapter: look through the chain for it.
        inner: BaseException | None = exc.orig
        while inner is not None:
            if isinstance(inner, _UNREACHABLE):
                return True
            inner = inner.__cause__ or inner.__context__
        return False
    return isinstance(exc, (*_UNREACHABLE, PoolTimeout))
