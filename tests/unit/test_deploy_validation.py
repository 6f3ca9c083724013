"""deploy/ checked by the real tools: Debian's docker-compose resolves the file, nginx runs our nginx.conf.

There is no Docker engine here, so the stack is not started; nginx is, on loopback, in front of a port
where no API listens, to show what it answers by itself.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.processes import spare_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DOCKER_COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SECRETS = {"POSTGRES_PASSWORD": "pg-Secret-1", "HANDOFF_JWT_SECRET": "j" * 48, "HANDOFF_SECRET_KEY": "k" * 43 + "="}


def _deploy_copy(tmp_path: Path, values: dict[str, str]) -> Path:
    """deploy/ with a .env made from .env.example and `values`, as an operator would fill it."""
    folder = tmp_path / "deploy"
    shutil.copytree(DEPLOY, folder, ignore=shutil.ignore_patterns(".env"))
    lines = []
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if "=" in line and name in values else line)
    (folder / ".env").write_text("\n".join(lines) + "\n")
    return folder


def _compose_config(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOCKER_COMPOSE, "-f", str(folder / "docker-compose.yml"), "config"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = _compose_config(_deploy_copy(tmp_path_factory.mktemp("compose"), SECRETS))
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert isinstance(data, dict)
    return data


def test_docker_compose_accepts_the_file(resolved: dict[str, Any]) -> None:
    assert {"postgres", "redis", "migrate", "api", "proxy", "assessor", "notifier", "mailpit"} <= set(
        resolved["services"]
    )


def test_the_postgres_password_is_written_once_in_env_and_reaches_both_sides(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]
    url = f"postgresql+asyncpg://handoff:{SECRETS['POSTGRES_PASSWORD']}@postgres:5432/handoff"
    for name in ("migrate", "api", "assessor", "notifier"):
        assert services[name]["environment"]["HANDOFF_DATABASE_URL"] == url, name


def test_without_a_postgres_password_compose_refuses_and_names_it(tmp_path: Path) -> None:
    result = _compose_config(_deploy_copy(tmp_path, {**SECRETS, "POSTGRES_PASSWORD": ""}))
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in deploy/.env" in result.stderr


def test_the_api_trusts_forwarded_headers_from_the_proxy_only(resolved: dict[str, Any]) -> None:
    api = resolved["services"]["api"]
    assert api["environment"]["FORWARDED_ALLOW_IPS"] == "*"
    assert "ports" not in api  # only the proxy can reach it, so trusting any forwarder is trusting the proxy


def test_mailpit_ui_is_on_this_host_only(resolved: dict[str, Any]) -> None:
    ports = resolved["services"]["mailpit"]["ports"]
    assert [str(p).split("/")[0] if isinstance(p, str) else p for p in ports] in (
        ["127.0.0.1:8025:8025"],
        [{"host_ip": "127.0.0.1", "published": 8025, "target": 8025, "protocol": "tcp", "mode": "host"}],
    )


@pytest.mark.parametrize("worker", ["assessor", "notifier"])
def test_workers_have_a_health_check_that_asks_their_kind(resolved: dict[str, Any], worker: str) -> None:
    check = resolved["services"][worker]["healthcheck"]
    assert check["test"] == ["CMD", "handoff", worker, "--check"]
    assert not check.get("disable")


def test_prometheus_example_scrapes_every_replica() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["handoff-api"]["dns_sd_configs"][0]
    assert (api["names"], api["type"], api["port"]) == (["api"], "A", 8000)
    workers = jobs["handoff-workers"]["dns_sd_configs"][0]
    assert (sorted(workers["names"]), workers["port"]) == (["assessor", "notifier"], 9100)


# --- nginx ------------------------------------------------------------------------------------------------------


def _nginx_copy(tmp_path: Path, listen_port: int, upstream_port: int) -> Path:
    """Our nginx.conf with the `api` upstream mapped to loopback and the listener on a spare loopback port."""
    text = (DEPLOY / "nginx.conf").read_text()
    text, upstreams = re.subn(r"set \$handoff_api api:8000;", f"set $handoff_api 127.0.0.1:{upstream_port};", text)
    text, listeners = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen_port};", text)
    assert (upstreams, listeners) == (1, 1)
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    return path


def _nginx(tmp_path: Path, conf: Path, *extra: str) -> list[str]:
    directives = f"pid {tmp_path}/nginx.pid; error_log stderr;"
    return [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", directives, *extra]


def test_nginx_accepts_our_configuration(tmp_path: Path) -> None:
    conf = _nginx_copy(tmp_path, spare_port(), spare_port())
    result = subprocess.run(_nginx(tmp_path, conf, "-t"), capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.fixture
def nginx_in_front_of_nothing(tmp_path: Path) -> Any:
    port = spare_port()
    conf = _nginx_copy(tmp_path, port, spare_port())  # nothing listens on the upstream port
    directives = f"pid {tmp_path}/nginx.pid; error_log stderr; daemon off; master_process off;"
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", directives],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            break
        except httpx.TransportError:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
    yield base, process
    process.terminate()
    process.wait(timeout=10)


@pytest.mark.parametrize("path", ["/metrics", "/schema/openapi.json"])
def test_nginx_refuses_metrics_and_schema_from_outside_with_the_error_body(
    nginx_in_front_of_nothing: Any, path: str
) -> None:
    base, _ = nginx_in_front_of_nothing
    response = httpx.get(f"{base}{path}", timeout=5)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status_code": 403, "code": "forbidden", "detail": "not available from outside"}


def test_nginx_answers_a_missing_api_with_the_contract_json_and_a_request_id(nginx_in_front_of_nothing: Any) -> None:
    base, _ = nginx_in_front_of_nothing
    response = httpx.get(f"{base}/api/v1/ai-sessions", headers={"X-Request-ID": "edge-test-1"}, timeout=15)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert (body["status_code"], body["code"]) == (502, "unavailable")
    assert response.headers["x-request-id"] == "edge-test-1"
    assert response.headers["retry-after"] == "5"
    fresh = httpx.get(f"{base}/api/v1/ai-sessions", timeout=15)
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
