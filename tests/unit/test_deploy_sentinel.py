"""deploy/docker-compose.sentinel.yml: Debian's docker-compose resolves it over the main file, and the
configuration its commands write is taken by a real redis-server and a real Sentinel on loopback.

There is no Docker engine here: each service's command runs under `sh` with /data and /run/secrets moved to a
folder of the test's, and the image's entrypoint replaced by a stand-in that keeps the file written for it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from shared.config import Settings
from tests.support.processes import spare_port
from tests.support.waiting import until
from tests.unit.test_deploy_validation import SECRETS, _compose_config, _deploy_copy, _secret, _secret_names

NODES = ("redis", "redis-replica")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
APP = ("api", "assessor", "notifier")


@pytest.fixture(scope="module")
def deploy_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _deploy_copy(tmp_path_factory.mktemp("compose-sentinel"), SECRETS)


@pytest.fixture(scope="module")
def resolved(deploy_copy: Path) -> dict[str, Any]:
    result = _compose_config(deploy_copy, "docker-compose.sentinel.yml")
    assert result.returncode == 0, result.stderr
    assert _secret(deploy_copy, "redis_password") not in result.stdout
    data = yaml.safe_load(result.stdout)
    assert isinstance(data, dict)
    return data


def test_the_replica_and_three_sentinels_join_the_stack(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name in (*NODES[1:], *SENTINELS):
        service = services[name]
        assert re.fullmatch(r"redis:7\.\d+\.\d+-bookworm", service["image"]), name
        assert "ports" not in service, f"{name} publishes a port: Redis and the sentinels stay inside the network"
        assert service["healthcheck"]["test"][0] == "CMD-SHELL"
        assert re.fullmatch(r"\d+[mg]", str(service["mem_limit"]))
        assert 0 < float(service["cpus"]) <= 1
        assert service["logging"]["driver"] == "json-file"
        assert service["volumes"], f"{name} would forget its role or its master on a restart"
    holders = {name for name, service in services.items() if "redis_password" in _secret_names(service)}
    assert holders == {*NODES, *SENTINELS}


def test_every_app_process_finds_the_master_through_the_sentinels(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name in APP:
        environment = services[name]["environment"]
        redis_settings = {key: value for key, value in environment.items() if key.startswith("HANDOFF_REDIS_")}
        redis_settings.pop("HANDOFF_REDIS_URL_FILE")  # the secret file, as in the containers
        settings = Settings.from_env({**redis_settings, "HANDOFF_REDIS_URL": "redis://:pw@redis:6379/0"})
        assert settings.redis_sentinel_addresses == [(sentinel, 26379) for sentinel in SENTINELS]
        assert environment["HANDOFF_REDIS_URL_FILE"] == "/run/secrets/redis_url"  # the password, the database
        for sentinel in SENTINELS:
            assert services[name]["depends_on"][sentinel]["condition"] == "service_healthy"
    monitored = re.search(r"sentinel monitor (\S+) redis 6379 2", " ".join(services["sentinel-1"]["command"]))
    assert monitored is not None
    assert {services[name]["environment"]["HANDOFF_REDIS_SENTINEL_MASTER"] for name in APP} == {monitored[1]}


class Sandbox:
    """Runs a service's command with /data, /run/secrets and the entrypoint moved into `root`."""

    def __init__(self, root: Path, deploy_copy: Path) -> None:
        self.root = root
        (root / "secrets").mkdir()
        (root / "secrets" / "redis_password").write_text(_secret(deploy_copy, "redis_password") + "\n")
        bin_dir = root / "bin"
        bin_dir.mkdir()
        shim = bin_dir / "docker-entrypoint.sh"
        # The image's entrypoint would start `redis-server <file> [--sentinel]`; keep the file it was given.
        shim.write_text('#!/bin/sh\ncp "$2" "$KEEP"\n')
        shim.chmod(0o755)

    def written(self, service: dict[str, Any], name: str) -> str:
        data = self.root / name
        data.mkdir()
        script = service["command"][2].replace("$$", "$").replace("/data/", f"{data}/")
        script = script.replace("/run/secrets/", f"{self.root}/secrets/")
        env = {
            **os.environ,
            **service.get("environment", {}),
            "PATH": f"{self.root / 'bin'}:{os.environ['PATH']}",
            "KEEP": str(self.root / f"{name}.conf"),
        }
        result = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, result.stderr
        return (self.root / f"{name}.conf").read_text()


def _start(root: Path, name: str, config: str, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = spare_port()
    folder = root / f"{name}-data"  # each its own, as each container has its own volume
    folder.mkdir()
    path = folder / "redis.conf"
    path.write_text(config)
    process = subprocess.Popen(
        ["redis-server", str(path), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), *extra],
        stdout=(root / f"{name}.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    return process, port


def _until(check: Any, what: str, timeout: float = 20) -> Any:
    """`until`, taking a server that does not answer yet for a condition that does not hold yet."""

    def answered() -> Any:
        try:
            return check()
        except (redis.RedisError, OSError):
            return None

    return until(answered, timeout, what)


def test_the_files_the_commands_write_run_a_replicated_redis_with_a_sentinel(
    resolved: dict[str, Any], deploy_copy: Path, tmp_path: Path
) -> None:
    sandbox = Sandbox(tmp_path, deploy_copy)
    services = resolved["services"]
    master_conf = sandbox.written(services["redis"], "redis")
    replica_conf = sandbox.written(services["redis-replica"], "redis-replica")
    sentinel_conf = sandbox.written(services["sentinel-1"], "sentinel-1")
    password = _secret(deploy_copy, "redis_password")
    assert "appendonly yes" in master_conf
    assert "appendonly yes" in replica_conf
    assert "sentinel announce-ip sentinel-1" in sentinel_conf

    running: list[subprocess.Popen[bytes]] = []
    try:
        master, master_port = _start(tmp_path, "master", master_conf)
        running.append(master)
        # Names resolve inside the compose network only: here the replica and the sentinel dial loopback.
        replica_conf = replica_conf.replace("replicaof redis 6379", f"replicaof 127.0.0.1 {master_port}")
        replica, _ = _start(tmp_path, "replica", replica_conf)
        running.append(replica)
        primary = redis.Redis(port=master_port, password=password, socket_timeout=2)
        _until(primary.ping, "the master")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=master_port, socket_timeout=2).ping()
        _until(lambda: primary.info("replication")["connected_slaves"] == 1, "the replica to sync with masterauth")

        sentinel_conf = sentinel_conf.replace(" redis 6379 ", f" 127.0.0.1 {master_port} ")
        sentinel, sentinel_port = _start(tmp_path, "sentinel", sentinel_conf, "--sentinel")
        running.append(sentinel)
        watching = redis.Redis(port=sentinel_port, socket_timeout=2)
        state = _until(lambda: watching.sentinel_master("handoff"), "the sentinel to watch the master")
        assert state["flags"] == "master"  # not s_down: it logged in with auth-pass
        assert _until(lambda: watching.sentinel_slaves("handoff"), "the sentinel to find the replica")
    finally:
        for process in running:
            process.kill()
            process.wait()
