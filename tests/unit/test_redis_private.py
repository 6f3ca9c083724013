"""The fence around redis-py's connection pools: our connection kinds are the ones a pool makes.

If this fails after a redis-py upgrade, a server that drops connections as they open (a proxy in front of a
Redis that is down) is seen again as a failure of the call instead of an outage; see `shared.bus.redis_connection`.
"""

from __future__ import annotations

import pytest

from shared.bus.redis_connection import TCPConnection, TLSConnection, UnixConnection, blocking_pool


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("redis://127.0.0.1:6379/0", TCPConnection),
        ("rediss://redis.example:6380/0", TLSConnection),
        ("unix:///run/redis.sock?db=0", UnixConnection),
    ],
)
def test_a_pool_makes_the_connections_that_report_a_closed_peer_as_a_redis_error(url: str, kind: type) -> None:
    pool = blocking_pool(url, max_connections=2)
    assert type(pool.make_connection()) is kind
