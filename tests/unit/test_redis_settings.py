"""The Redis settings: a URL, or Sentinels and the master's name, and the replicas a publish waits for."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, Settings
from shared.redis_master import RedisMaster, SentinelMasterPool

SENTINELS = "sentinel-1:26379, sentinel-2:26379,10.0.0.7:26380,[fd00::7]:26381"


def test_sentinels_and_the_master_name_are_read() -> None:
    settings = Settings.from_env({"HANDOFF_REDIS_SENTINELS": SENTINELS, "HANDOFF_REDIS_SENTINEL_MASTER": "handoff"})
    assert settings.redis_sentinel_addresses == [
        ("sentinel-1", 26379),
        ("sentinel-2", 26379),
        ("10.0.0.7", 26380),
        ("fd00::7", 26381),
    ]
    assert settings.redis_sentinel_master == "handoff"
    assert settings.redis_url is None
    assert settings.uses_redis  # Sentinels alone are enough: the master needs no password, database 0


def test_without_redis_nothing_is_networked_and_no_replica_is_waited_for() -> None:
    settings = Settings.from_env({})
    assert (settings.uses_redis, settings.redis_sentinel_addresses, settings.redis_min_replicas) == (False, [], 0)
    assert RedisMaster.of(settings, role="api") is None


@pytest.mark.parametrize(
    "value",
    ["sentinel-1", "sentinel-1:", ":26379", "sentinel-1:26379,", "sentinel-1:0", "sentinel-1:65536", "a b:1", "::1:5"],
)
def test_a_malformed_sentinel_list_is_one_sentence_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"HANDOFF_REDIS_SENTINELS": value, "HANDOFF_REDIS_SENTINEL_MASTER": "mymaster"})
    message = str(refused.value)
    assert message.startswith("HANDOFF_REDIS_SENTINELS is not valid: `")
    assert message.endswith("is not host:port with a port from 1 to 65535 (e.g. sentinel-1:26379,sentinel-2:26379)")
    assert "\n" not in message


def test_the_master_name_goes_with_the_sentinels() -> None:
    with pytest.raises(ConfigError) as missing:
        Settings.from_env({"HANDOFF_REDIS_SENTINELS": SENTINELS})
    assert str(missing.value) == (
        "HANDOFF_REDIS_SENTINEL_MASTER is required with HANDOFF_REDIS_SENTINELS: "
        "the name the sentinels know the master by (e.g. mymaster)"
    )
    with pytest.raises(ConfigError) as alone:
        Settings.from_env({"HANDOFF_REDIS_SENTINEL_MASTER": "mymaster"})
    assert str(alone.value) == "HANDOFF_REDIS_SENTINEL_MASTER is set but HANDOFF_REDIS_SENTINELS is not"
    with pytest.raises(ConfigError, match=r"^HANDOFF_REDIS_SENTINEL_MASTER is not valid: use letters, digits"):
        Settings.from_env({"HANDOFF_REDIS_SENTINELS": SENTINELS, "HANDOFF_REDIS_SENTINEL_MASTER": "my master"})


def test_with_sentinels_the_url_must_be_a_redis_one() -> None:
    with pytest.raises(ConfigError) as unix:
        Settings.from_env(
            {
                "HANDOFF_REDIS_SENTINELS": SENTINELS,
                "HANDOFF_REDIS_SENTINEL_MASTER": "mymaster",
                "HANDOFF_REDIS_URL": "unix:///run/redis.sock",
            }
        )
    assert str(unix.value) == "HANDOFF_REDIS_URL must be redis:// or rediss:// with HANDOFF_REDIS_SENTINELS"


def test_min_replicas_is_a_count_and_needs_redis() -> None:
    two = Settings.from_env({"HANDOFF_REDIS_URL": "redis://r/0", "HANDOFF_REDIS_MIN_REPLICAS": "2"})
    assert two.redis_min_replicas == 2
    with pytest.raises(ConfigError) as negative:
        Settings.from_env({"HANDOFF_REDIS_URL": "redis://r/0", "HANDOFF_REDIS_MIN_REPLICAS": "-1"})
    assert str(negative.value) == "HANDOFF_REDIS_MIN_REPLICAS is not valid: expected `int` >= 0"
    with pytest.raises(ConfigError) as word:
        Settings.from_env({"HANDOFF_REDIS_URL": "redis://r/0", "HANDOFF_REDIS_MIN_REPLICAS": "one"})
    assert str(word.value) == "HANDOFF_REDIS_MIN_REPLICAS is not valid: expected `int`, got `str`"
    with pytest.raises(ConfigError) as embedded:
        Settings.from_env({"HANDOFF_REDIS_MIN_REPLICAS": "1"})
    assert str(embedded.value) == "HANDOFF_REDIS_MIN_REPLICAS needs HANDOFF_REDIS_URL or HANDOFF_REDIS_SENTINELS"


async def test_with_sentinels_the_url_gives_only_the_password_and_the_database() -> None:
    settings = Settings.from_env(
        {
            "HANDOFF_REDIS_SENTINELS": "127.0.0.1:26401,127.0.0.1:26402",
            "HANDOFF_REDIS_SENTINEL_MASTER": "handoff",
            "HANDOFF_REDIS_URL": "redis://:s3cret-pass@ignored-host:6390/4",
        }
    )
    master = RedisMaster.of(settings, role="api")
    assert master is not None
    pool = master.pool(max_connections=3, timeout=2)
    try:
        assert isinstance(pool, SentinelMasterPool)
        assert pool.service_name == "handoff"
        kwargs = pool.connection_kwargs
        assert (kwargs["password"], kwargs["db"], pool.max_connections) == ("s3cret-pass", 4, 3)
        assert "host" not in kwargs  # the sentinels say where the master is
        assert [s.connection_pool.connection_kwargs["port"] for s in pool.sentinel_manager.sentinels] == [26401, 26402]
    finally:
        await pool.aclose()
    described = master.describe()
    assert described == "master 'handoff' through the sentinels 127.0.0.1:26401, 127.0.0.1:26402"
    plain = RedisMaster("redis://:s3cret-pass@redis.internal:6390/4").describe()
    assert plain == "redis.internal:6390"
    assert "s3cret" not in described + plain
