"""The Redis master of this process: reached by URL, or found through Sentinel and followed across failovers.

Every Redis user of a process (commands, the SSE hub's tail, the outbox relay, the rate limiter, arq's
workers, the health checks) gets its pool here, so all of them find the master the same way.

A failover reaches a connection in one of two ways: the old master is gone (the connection breaks), or it
answers READONLY, having come back as a replica. Both end in a ConnectionError that drops the connection;
the next command connects again and, with Sentinel, asks the sentinels where the master is now. Callers
need nothing special for it: it is a Redis outage like any other, and the relay retries, the hub
reconnects, the workers start over.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from prometheus_client import Counter
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)
from redis.exceptions import ConnectionError, ReadOnlyError

from shared.config import Settings

log = logging.getLogger("handoff.redis")

# How long one sentinel may take to say where the master is; the next one is asked after that.
SENTINEL_TIMEOUT_S = 1.0
# How long the relay waits for replicas to confirm an event or job (`WAIT`) before it tries again later.
REPLICA_WAIT_MS = 1000

MASTER_CHANGES = Counter(
    "handoff_redis_master_changes_total", "Times this process found the Redis master at a new address (a failover)"
)


class _ClosedByPeer(AbstractConnection):
    """A server that closed the connection under us is a ConnectionError, as any outage is to our callers.

    Under uvloop (the API's loop) a write to a socket the peer has already reset raises RuntimeError ("unable to
    perform operation on <TCPTransport closed=True ...>") rather than an OSError, and redis-py passes it on, from
    a new connection's handshake too: it happens whenever something accepts a connection and drops it at once (a
    proxy or load balancer in front of a Redis that is down, a Redis at `maxclients`). Every command, the
    handshake's included, is sent through `send_packed_command`, which has already dropped the connection.
    """

    async def send_packed_command(self, command: bytes | str | Iterable[bytes], check_health: bool = True) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except RuntimeError as exc:
            raise ConnectionError(f"the connection was closed by the server ({exc})") from exc


class _FollowsTheMaster(_ClosedByPeer):
    """A READONLY answer means the server we hold was demoted: drop the connection so the next one finds the master."""

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ReadOnlyError as exc:
            await self.disconnect()
            raise ConnectionError(f"{self.host}:{self.port} is a read-only replica now; reconnecting") from exc  # type: ignore[attr-defined]


class MasterConnection(_FollowsTheMaster, Connection):
    pass


class MasterSSLConnection(_FollowsTheMaster, SSLConnection):
    pass


class UnixSocketConnection(_ClosedByPeer, UnixDomainSocketConnection):
    """A unix socket has no failover to follow, but its server may close on us all the same."""


class SentinelMasterConnection(_ClosedByPeer, SentinelManagedConnection):
    """redis-py's own for a Sentinel pool (it follows the master itself), reporting a closed peer like ours."""


class SentinelMasterSSLConnection(_ClosedByPeer, SentinelManagedSSLConnection):
    pass


_OURS: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: MasterConnection,
    SSLConnection: MasterSSLConnection,
    UnixDomainSocketConnection: UnixSocketConnection,
}
# The last master address this process found for each Sentinel master name.
_known_masters: dict[str, tuple[str, int]] = {}


def _note_master(name: str, address: tuple[str, int]) -> None:
    """Log where the master is when this process first learns it, and again whenever it moves."""
    previous = _known_masters.get(name)
    if previous == address:
        return
    _known_masters[name] = address
    if previous is None:
        log.info("redis: master %r is at %s:%s (found through Sentinel)", name, *address)
    else:
        MASTER_CHANGES.inc()
        log.warning("redis: master %r moved from %s:%s to %s:%s (a failover)", name, *previous, *address)


class SentinelMasterPool(SentinelConnectionPool, BlockingConnectionPool):
    """redis-py's Sentinel pool (a new connection asks the sentinels for the master) with the blocking pool's limits."""

    sentinel_manager: Sentinel
    service_name: str

    async def get_master_address(self) -> tuple[str, int]:
        address: tuple[str, int] = await super().get_master_address()  # type: ignore[no-untyped-call]
        _note_master(self.service_name, (str(address[0]), int(address[1])))
        return address

    async def aclose(self) -> None:
        await super().aclose()
        for sentinel in self.sentinel_manager.sentinels:
            await sentinel.aclose()


@dataclass(frozen=True)
class RedisMaster:
    """How this process reaches its Redis master: a URL, or Sentinels and the master's name.

    With Sentinels, the URL (optional) gives only the user, password and database number; its host is ignored.
    """

    url: str | None = None
    sentinels: tuple[tuple[str, int], ...] = ()
    master_name: str | None = None
    client_name: str | None = None

    @classmethod
    def of(cls, settings: Settings, *, role: str) -> RedisMaster | None:
        """The Redis of a process with these settings, or None when it runs without Redis."""
        if not settings.uses_redis:
            return None
        return cls(
            settings.redis_url,
            tuple(settings.redis_sentinel_addresses),
            settings.redis_sentinel_master,
            f"handoff-{role}-{os.getpid()}",
        )

    def describe(self) -> str:
        """Where the master is looked for, without any password: for log lines."""
        if self.sentinels:
            listed = ", ".join(f"{host}:{port}" for host, port in self.sentinels)
            return f"master {self.master_name!r} through the sentinels {listed}"
        kwargs = parse_url(self.url or "")
        return str(kwargs.get("path") or f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}")

    def announce(self, *, min_replicas: int) -> None:
        """One log line at start-up: where the master is looked for, and what a publish waits for."""
        ignored = " (the host of HANDOFF_REDIS_URL is not used)" if self.sentinels and self.url else ""
        waits = f"; a publish waits for {min_replicas} replica(s) to confirm it" if min_replicas else ""
        log.info("redis: %s%s%s", self.describe(), ignored, waits)

    def pool(
        self,
        *,
        max_connections: int,
        timeout: float | None = None,
        socket_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        health_check_interval: int = 30,
    ) -> BlockingConnectionPool:
        """A pool of at most `max_connections` connections to the master; `timeout` is the wait for a free one."""
        options: dict[str, Any] = {
            "max_connections": max_connections,
            "timeout": timeout,
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            "health_check_interval": health_check_interval,
            "client_name": self.client_name,
        }
        kwargs: dict[str, Any] = dict(parse_url(self.url)) if self.url else {}
        if not self.sentinels:
            given = kwargs.get("connection_class", Connection)
            kwargs["connection_class"] = _OURS.get(given, given)
            return BlockingConnectionPool(**{**kwargs, **options})
        sentinel_options = {"socket_timeout": SENTINEL_TIMEOUT_S, "socket_connect_timeout": SENTINEL_TIMEOUT_S}
        manager = Sentinel(list(self.sentinels), sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
        credentials = {name: kwargs[name] for name in ("username", "password", "db") if name in kwargs}
        ssl = kwargs.get("connection_class") is SSLConnection
        connection_class = SentinelMasterSSLConnection if ssl else SentinelMasterConnection
        return SentinelMasterPool(  # type: ignore[no-untyped-call]
            self.master_name,
            manager,
            is_master=True,
            ssl=ssl,
            connection_class=connection_class,
            **credentials,
            **options,
        )


class OneConnection:
    """Commands pipelined on one pooled connection, each reply read as it comes.

    For `WAIT`, which counts the replicas holding what this very connection wrote. A connection left with
    replies unread (a failure midway) is dropped rather than handed to the next caller.
    """

    def __init__(self, pool: BlockingConnectionPool) -> None:
        self.pool = pool
        self._connection: AbstractConnection | None = None
        self._unread = 0
        self._broken = False

    async def __aenter__(self) -> OneConnection:
        self._connection = await self.pool.get_connection()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if self._unread or self._broken:
                await connection.disconnect()
        finally:
            await self.pool.release(connection)

    async def send(self, *commands: Sequence[Any]) -> None:
        assert self._connection is not None, "use OneConnection in `async with`"
        await self._connection.send_packed_command(self._connection.pack_commands(commands))
        self._unread += len(commands)

    async def reply(self) -> Any:
        """The next reply; an error reply is raised."""
        assert self._connection is not None, "use OneConnection in `async with`"
        assert self._unread > 0, "no reply is due"
        try:
            reply = await self._connection.read_response()
        except BaseException:
            self._broken = True  # an error reply, a broken connection or a cancel: start afresh next time
            raise
        self._unread -= 1
        return reply
