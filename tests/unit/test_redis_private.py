"""The fence around redis-py's connection pools: every pool of a process makes our connection kinds.

If this fails after a redis-py upgrade, a server that drops connections as they open (a proxy in front of a
Redis that is down) is seen again as a failure of the call instead of an outage; see `shared.redis_master`.
"""

from __future__ import annotations

import pytest

from shared.redis_master import (
    MasterConnection,
    MasterSSLConnection,
    RedisMaster,
    SentinelMasterConnection,
    UnixSocketConnection,
)


@pytest.mark.parametrize(
    ("master", "kind"),
    [
        (RedisMaster("redis://127.0.0.1:6379/0"), MasterConnection),
        (RedisMaster("rediss://redis.example:6380/0"), MasterSSLConnection),
        (RedisMaster("unix:///run/redis.sock?db=0"), UnixSocketConnection),
        (RedisMaster(None, (("127.0.0.1", 26379),), "handoff"), SentinelMasterConnection),
    ],
)
def test_a_pool_makes_connections_that_report_a_closed_peer_as_a_redis_error(master: RedisMaster, kind: type) -> None:
    pool = master.pool(max_connections=2)
    assert type(pool.make_connection()) is kind
