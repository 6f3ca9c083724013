"""deploy/ checked by the real tools: Debian's docker-compose resolves the files, nginx runs our configuration.

There is no Docker engine here, so the stack is not started; nginx is, on loopback, in front of small HTTP
servers standing in for the api replicas (or of a port where nothing listens), to show what it forwards and
what it answers by itself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.certs import self_signed
from tests.support.processes import spare_port
from tests.support.waiting import until

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DOCKER_COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SECRETS = {"HANDOFF_JWT_SECRET": "j" * 48, "HANDOFF_SECRET_KEY": "k" * 43 + "="}
SERVICES = {"postgres", "redis", "migrate", "api", "proxy", "assessor", "notifier", "mailpit", "backup", "prometheus"}
APP_SERVICES = ("migrate", "api", "assessor", "notifier")
# What a published port without an address means: every interface of the host.
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - compared against, never bound


def _deploy_copy(tmp_path: Path, values: dict[str, str]) -> Path:
    """deploy/ as an operator prepares it: .env from .env.example and `values`, then make-secrets.sh."""
    folder = tmp_path / "deploy"
    shutil.copytree(DEPLOY, folder, ignore=shutil.ignore_patterns(".env", "secrets", "backups", "certs"))
    lines = []
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if "=" in line and name in values else line)
    (folder / ".env").write_text("\n".join(lines) + "\n")
    subprocess.run(["sh", str(folder / "make-secrets.sh")], check=True, capture_output=True, timeout=30)
    return folder


def _compose_config(folder: Path, *extra_files: str) -> subprocess.CompletedProcess[str]:
    files = [arg for name in ("docker-compose.yml", *extra_files) for arg in ("-f", str(folder / name))]
    return subprocess.run(
        [DOCKER_COMPOSE, *files, "config"], cwd=folder, capture_output=True, text=True, timeout=60, check=False
    )


def _secret(folder: Path, name: str) -> str:
    return (folder / "secrets" / name).read_text().strip()


@pytest.fixture(scope="module")
def deploy_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _deploy_copy(tmp_path_factory.mktemp("compose"), SECRETS)


@pytest.fixture(scope="module")
def resolved_text(deploy_copy: Path) -> str:
    result = _compose_config(deploy_copy)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def resolved(resolved_text: str) -> dict[str, Any]:
    data = yaml.safe_load(resolved_text)
    assert isinstance(data, dict)
    return data


def _published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of every published port, in v1's or v2's notation."""
    found = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append((port.get("host_ip", EVERY_INTERFACE), int(port["published"]), int(port["target"])))
        else:
            parts = str(port).split("/")[0].split(":")
            host = parts[0] if len(parts) == 3 else EVERY_INTERFACE
            found.append((host, int(parts[-2]), int(parts[-1])))
    return found


def test_docker_compose_accepts_the_file(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) >= SERVICES


@pytest.mark.parametrize("variable", ["HANDOFF_JWT_SECRET", "HANDOFF_SECRET_KEY"])
def test_an_empty_secret_fails_config_and_is_named(tmp_path: Path, variable: str) -> None:
    result = _compose_config(_deploy_copy(tmp_path, {**SECRETS, variable: ""}))
    assert result.returncode != 0
    assert f"set {variable} in deploy/.env" in result.stderr


def test_passwords_travel_as_secret_files_and_only_the_postgres_container_gets_its_own(
    deploy_copy: Path, resolved: dict[str, Any], resolved_text: str
) -> None:
    postgres_password, redis_password = (
        _secret(deploy_copy, "postgres_password"),
        _secret(deploy_copy, "redis_password"),
    )
    assert len(postgres_password) >= 24
    assert len(redis_password) >= 24
    assert _secret(deploy_copy, "database_url") == (
        f"postgresql+asyncpg://handoff:{postgres_password}@postgres:5432/handoff"
    )
    assert _secret(deploy_copy, "redis_url") == f"redis://:{redis_password}@redis:6379/0"
    # Nothing Compose shows (or hands to `docker inspect`) holds a password.
    assert postgres_password not in resolved_text
    assert redis_password not in resolved_text
    secrets = resolved["secrets"]
    for name in ("postgres_password", "redis_password", "database_url", "redis_url"):
        assert Path(secrets[name]["file"]) == deploy_copy / "secrets" / name
    services = resolved["services"]
    holders = {name for name, service in services.items() if "postgres_password" in _secret_names(service)}
    assert holders == {"postgres", "backup"}  # the server, and pg_dump next to it; no app container
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert {name for name, service in services.items() if "redis_password" in _secret_names(service)} == {"redis"}
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert not any(key.startswith("POSTGRES") for key in environment), name
        assert environment["HANDOFF_DATABASE_URL_FILE"] == "/run/secrets/database_url"
        assert environment["HANDOFF_REDIS_URL_FILE"] == "/run/secrets/redis_url"
        assert _secret_names(services[name]) == {"database_url", "redis_url"}


def _secret_names(service: dict[str, Any]) -> set[str]:
    return {entry["source"] if isinstance(entry, dict) else entry for entry in service.get("secrets", [])}


def test_redis_asks_for_its_password(resolved: dict[str, Any]) -> None:
    redis = resolved["services"]["redis"]
    script = " ".join(redis["command"])
    assert "requirepass" in script
    assert "/run/secrets/redis_password" in script
    assert "--appendonly yes" in script
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])


def test_make_secrets_keeps_what_exists(deploy_copy: Path) -> None:
    before = {path.name: path.read_text() for path in (deploy_copy / "secrets").iterdir()}
    result = subprocess.run(["sh", str(deploy_copy / "make-secrets.sh")], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert {path.name: path.read_text() for path in (deploy_copy / "secrets").iterdir()} == before
    assert result.stdout.count("kept") == 4


def test_every_published_port_is_on_this_host_only(resolved: dict[str, Any]) -> None:
    published = {name: _published(service) for name, service in resolved["services"].items()}
    assert published["proxy"] == [("127.0.0.1", 8000, 80)]
    assert published["mailpit"] == [("127.0.0.1", 8025, 8025)]
    for name, ports in published.items():
        assert all(host == "127.0.0.1" for host, _, _ in ports), f"{name} publishes {ports}"


def test_the_tls_file_adds_https_for_other_hosts_and_keeps_http_local(deploy_copy: Path) -> None:
    result = _compose_config(deploy_copy, "docker-compose.tls.yml")
    assert result.returncode == 0, result.stderr
    proxy = yaml.safe_load(result.stdout)["services"]["proxy"]
    assert sorted(_published(proxy)) == [(EVERY_INTERFACE, 443, 443), ("127.0.0.1", 8000, 80)]
    volumes = [str(volume) for volume in proxy["volumes"]]
    assert any(v.endswith("nginx-tls.conf:/etc/nginx/handoff.d/tls.conf:ro") for v in volumes)
    assert any(v.endswith(f"{deploy_copy / 'certs'}:/etc/nginx/certs:ro") for v in volumes)


def test_the_api_trusts_forwarded_headers_from_the_proxy_network_only(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    subnet = resolved["networks"]["edge"]["ipam"]["config"][0]["subnet"]
    assert services["api"]["environment"]["FORWARDED_ALLOW_IPS"] == subnet != "*"
    on_edge = {name for name, service in services.items() if "edge" in service.get("networks", {})}
    assert on_edge == {"proxy", "api"}
    assert "ports" not in services["api"]


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


class Replica:
    """A stand-in api replica on loopback: answers `status` with the request's headers as JSON, counts requests."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[dict[str, str]] = []
        replica = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                headers = {key.lower(): value for key, value in self.headers.items()}
                replica.requests.append(headers)
                body = json.dumps({"headers": headers, "path": self.path}).encode()
                self.send_response(replica.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    made: list[Replica] = []
    yield made
    for replica in made:
        replica.close()


def _nginx_copy(tmp_path: Path, listen_port: int, upstream: str, *, tls_port: int | None = None) -> Path:
    """Our nginx configuration with `api` mapped to `upstream` and the listeners on loopback ports."""
    text = (DEPLOY / "nginx.conf").read_text()
    text, listeners = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen_port};", text)
    locations, upstreams = re.subn(
        r"set \$handoff_api api:8000;", f"set $handoff_api {upstream};", (DEPLOY / "nginx-locations.conf").read_text()
    )
    assert (upstreams, listeners) == (1, 1)
    (tmp_path / "nginx-locations.conf").write_text(locations)
    (tmp_path / "handoff.d").mkdir()
    if tls_port is not None:
        tls, tls_listeners = re.subn(
            r"listen 443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;", (DEPLOY / "nginx-tls.conf").read_text()
        )
        assert tls_listeners == 1
        (tmp_path / "handoff.d" / "tls.conf").write_text(tls)
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    return path


def _nginx(tmp_path: Path, conf: Path, *extra: str) -> list[str]:
    directives = f"pid {tmp_path}/nginx.pid; error_log stderr;"
    return [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", directives, *extra]


@contextmanager
def _running_nginx(tmp_path: Path, conf: Path, port: int) -> Iterator[str]:
    directives = f"pid {tmp_path}/nginx.pid; error_log stderr; daemon off; master_process off;"
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", directives],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            httpx.get(f"{base}/nginx-health", timeout=1)
        except httpx.TransportError:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            return False
        return True

    until(answers, 10, "nginx to start")
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_nginx_accepts_our_configuration(tmp_path: Path) -> None:
    conf = _nginx_copy(tmp_path, spare_port(), f"127.0.0.1:{spare_port()}")
    result = subprocess.run(_nginx(tmp_path, conf, "-t"), capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.fixture
def nginx_in_front_of_nothing(tmp_path: Path) -> Iterator[str]:
    port = spare_port()
    conf = _nginx_copy(tmp_path, port, f"127.0.0.1:{spare_port()}")  # nothing listens on the upstream port
    with _running_nginx(tmp_path, conf, port) as base:
        yield base


@pytest.mark.parametrize("path", ["/metrics", "/schema/openapi.json"])
def test_nginx_refuses_metrics_and_schema_from_outside_with_the_error_body(
    nginx_in_front_of_nothing: str, path: str
) -> None:
    response = httpx.get(f"{nginx_in_front_of_nothing}{path}", timeout=5)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status_code": 403, "code": "forbidden", "detail": "not available from outside"}


def test_nginx_answers_a_missing_api_with_the_contract_json_and_a_request_id(nginx_in_front_of_nothing: str) -> None:
    base = nginx_in_front_of_nothing
    response = httpx.get(f"{base}/api/v1/ai-sessions", headers={"X-Request-ID": "edge-test-1"}, timeout=15)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert (body["status_code"], body["code"]) == (502, "unavailable")
    assert response.headers["x-request-id"] == "edge-test-1"
    assert response.headers["retry-after"] == "5"
    fresh = httpx.get(f"{base}/api/v1/ai-sessions", timeout=15)
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])


def test_the_forwarded_address_is_the_one_nginx_saw_whatever_the_client_claims(
    tmp_path: Path, replicas: list[Replica]
) -> None:
    replicas.append(Replica())
    port = spare_port()
    with _running_nginx(tmp_path, _nginx_copy(tmp_path, port, replicas[0].address), port) as base:
        spoofed = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "X-Real-IP": "203.0.113.9"}
        response = httpx.get(f"{base}/api/v1/ai-sessions", headers=spoofed, timeout=5)
    assert response.status_code == 200
    seen = response.json()["headers"]
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-real-ip"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"


def test_a_replica_answering_503_is_skipped_for_the_next_one(tmp_path: Path, replicas: list[Replica]) -> None:
    not_ready, ready = Replica(status=503), Replica()
    replicas.extend([not_ready, ready])
    port = spare_port()
    conf = _nginx_copy(tmp_path, port, "handoff_replicas")
    servers = "".join(f"    server {replica.address};\n" for replica in (not_ready, ready))
    (tmp_path / "handoff.d" / "replicas.conf").write_text(f"upstream handoff_replicas {{\n{servers}}}\n")
    with _running_nginx(tmp_path, conf, port) as base, httpx.Client(base_url=base, timeout=5) as http:
        statuses = [http.get(f"/api/v1/handoffs/{n}").status_code for n in range(10)]
    assert statuses == [200] * 10
    # Tried once at most: after its 503 it is left out, rather than getting every other request.
    assert len(not_ready.requests) <= 1
    assert len(ready.requests) == 10


def test_the_tls_server_passes_nginx_t_and_serves_https(tmp_path: Path, replicas: list[Replica]) -> None:
    replicas.append(Replica())
    certificate = self_signed("127.0.0.1", "localhost")
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "fullchain.pem").write_bytes(certificate.cert_pem)
    (tmp_path / "certs" / "privkey.pem").write_bytes(certificate.key_pem)
    port, tls_port = spare_port(), spare_port()
    conf = _nginx_copy(tmp_path, port, replicas[0].address, tls_port=tls_port)
    checked = subprocess.run(_nginx(tmp_path, conf, "-t"), capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr
    with _running_nginx(tmp_path, conf, port):
        response = httpx.get(
            f"https://127.0.0.1:{tls_port}/api/v1/ai-sessions",
            headers={"X-Forwarded-For": "203.0.113.9"},
            verify=certificate.client_context(),
            timeout=5,
        )
        refused = httpx.get(f"https://127.0.0.1:{tls_port}/metrics", verify=certificate.client_context(), timeout=5)
    assert response.status_code == 200
    seen = response.json()["headers"]
    assert seen["x-forwarded-proto"] == "https"
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert refused.status_code == 403  # the same locations as the plain server


def test_the_proxy_logs_a_pick_up_link_without_its_token(tmp_path: Path, replicas: list[Replica]) -> None:
    replicas.append(Replica())
    port = spare_port()
    conf = _nginx_copy(tmp_path, port, replicas[0].address)
    access_log = tmp_path / "access.log"
    text, logs = re.subn(
        r"access_log /dev/stdout handoff_json;", f"access_log {access_log} handoff_json;", conf.read_text()
    )
    assert logs == 1
    conf.write_text(text)
    token = "Tk9UX0FfUkVBTF9UT0tFTl9KVVNUX1RIRV9TSEFQRQ-"
    with _running_nginx(tmp_path, conf, port) as base:
        assert httpx.get(f"{base}/pick-up/{token}", timeout=5).status_code == 200
        assert httpx.post(f"{base}/pick-up/{token}", timeout=5).status_code == 200
        assert httpx.get(f"{base}/api/v1/ai-sessions", timeout=5).status_code == 200
    written = access_log.read_text()
    assert token not in written
    events = [json.loads(line)["event"] for line in written.splitlines()]
    assert events[-3:] == ["GET /pick-up/… 200", "POST /pick-up/… 200", "GET /api/v1/ai-sessions 200"]
