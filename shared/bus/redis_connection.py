"""Redis connection pools whose connections report a server that closed on them as redis-py's ConnectionError.

Under uvloop (which uvicorn runs the API on), writing to a socket the peer has already reset raises
`RuntimeError("unable to perform operation on <TCPTransport closed=True ...>")` instead of an OSError, and
redis-py passes it on unchanged, also from the handshake of a new connection (`CLIENT SETNAME`). It happens
whenever something accepts the connection and drops it at once: a proxy or load balancer in front of a Redis
that is down, a Redis at `maxclients`. Every caller here treats RedisError as an outage (the relay retries, the
rate limiter lets the call through, the stream answers 503); anything else counted as a failure of the call
itself, and the relay set such events aside as unpublishable.

`send_packed_command` is where redis-py sends every command, the handshake's included; the subclass is chosen
on the pool's public `connection_class`, so rediss:// and unix:// keep their own connection kinds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis.asyncio import BlockingConnectionPool
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError


class _ClosedByPeerIsConnectionError(AbstractConnection):
    async def send_packed_command(self, command: bytes | str | Iterable[bytes], check_health: bool = True) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except RuntimeError as exc:  # redis-py has already dropped the connection (its BaseException branch)
            raise RedisConnectionError(f"the connection was closed by the server ({exc})") from exc


class TCPConnection(_ClosedByPeerIsConnectionError, Connection):
    pass


class TLSConnection(_ClosedByPeerIsConnectionError, SSLConnection):
    pass


class UnixConnection(_ClosedByPeerIsConnectionError, UnixDomainSocketConnection):
    pass


OURS: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: TCPConnection,
    SSLConnection: TLSConnection,
    UnixDomainSocketConnection: UnixConnection,
}


def blocking_pool(url: str, **options: Any) -> BlockingConnectionPool:
    """`BlockingConnectionPool.from_url(url, **options)`, with connections that report a closed peer as RedisError."""
    pool = BlockingConnectionPool.from_url(url, **options)
    pool.connection_class = OURS.get(pool.connection_class, pool.connection_class)
    return pool
