"""Static checks of deploy/: there is no Docker engine in CI, so the files are parsed, not run."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.cli import build_parser
from shared.config import SECRET_FIELDS, Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICES = {"postgres", "redis", "migrate", "api", "proxy", "assessor", "notifier", "mailpit", "backup", "prometheus"}
ONE_SHOT = {"migrate"}
APP_SERVICES = {"migrate", "api", "assessor", "notifier"}
LONG_RUNNING_APP_SERVICES = APP_SERVICES - {"migrate"}
SCALABLE = {"api", "assessor", "notifier"}
# Worker subcommands the compose file runs; services/cli.py may not have them yet.
EXPECTED_WORKER_COMMANDS = {"assessor", "notifier"}
# The containers must listen on every interface of their own network namespace.
API_ARGV = shlex.split("handoff api --host 0.0.0.0 --port 8000")
STREAM_PATH = "/api/v1/ai-sessions/escalations/stream"
# The URLs carry passwords: they are Docker secret files (deploy/make-secrets.sh), read via HANDOFF_*_FILE.
NOT_IN_ENV_EXAMPLE = {"dev_mode", "database_url", "redis_url"}
# A release, not a moving tag: `name:16.9-bookworm`, `name:v2.55.1`, or a digest.
PINNED_IMAGE = re.compile(r"[\w./-]+(:v?\d+\.\d+(\.\d+)?([-\w.]*)?)?(@sha256:[0-9a-f]{64})?")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


@pytest.fixture(scope="module")
def env_example() -> str:
    return (DEPLOY / ".env.example").read_text()


@pytest.fixture(scope="module")
def nginx_conf() -> str:
    return (DEPLOY / "nginx.conf").read_text()


@pytest.fixture(scope="module")
def nginx_locations() -> str:
    return (DEPLOY / "nginx-locations.conf").read_text()


def _argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _parser_subcommands() -> set[str]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("the handoff parser has no subcommands")


def _env_assignments(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"(HANDOFF_[A-Z0-9_]+)=(.*)", line.strip())
        if match:
            values[match[1]] = match[2]
    return values


def _block(text: str, header: str) -> str:
    """The body of the `{ ... }` block that follows `header`, braces balanced."""
    start = text.index(header)
    opening = text.index("{", start)
    depth = 0
    for position in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[position], 0)
        if depth == 0:
            return text[opening + 1 : position]
    raise AssertionError(f"unbalanced block after {header!r}")


def _without_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


# --- docker-compose.yml -----------------------------------------------------------------------------------------


def test_compose_has_every_service(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) >= SERVICES


@pytest.mark.parametrize("name", sorted(SCALABLE))
def test_scalable_services_have_no_container_name_and_no_host_port(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    assert "container_name" not in service
    assert "ports" not in service, f"{name} publishes a host port; `--scale {name}=N` would collide"


def test_app_services_run_real_handoff_commands(services: dict[str, dict[str, Any]]) -> None:
    known = _parser_subcommands()
    for name in sorted(APP_SERVICES):
        argv = _argv(services[name]["command"])
        assert argv[0] == "handoff", name
        if argv[1] in known:
            build_parser().parse_args(argv[1:])  # SystemExit on anything argparse rejects
        else:
            assert argv[1] in EXPECTED_WORKER_COMMANDS, f"{name}: `handoff {argv[1]}` is not a handoff subcommand"


def test_compose_runs_the_expected_commands(services: dict[str, dict[str, Any]]) -> None:
    subcommands = {_argv(services[name]["command"])[1] for name in APP_SERVICES}
    assert subcommands >= EXPECTED_WORKER_COMMANDS | {"migrate", "api"}
    assert _argv(services["api"]["command"]) == API_ARGV
    assert _argv(services["assessor"]["command"])[1] == "assessor"
    assert _argv(services["notifier"]["command"])[1] == "notifier"
    assert _argv(services["migrate"]["command"]) == ["handoff", "migrate"]


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_share_the_image_and_env_file(services: dict[str, dict[str, Any]], name: str) -> None:
    service = services[name]
    env_files = service["env_file"] if isinstance(service["env_file"], list) else [service["env_file"]]
    assert ".env" in env_files
    assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}


@pytest.mark.parametrize("name", sorted(LONG_RUNNING_APP_SERVICES))
def test_app_services_wait_for_migrations_and_redis(services: dict[str, dict[str, Any]], name: str) -> None:
    depends_on = services[name]["depends_on"]
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on["redis"]["condition"] == "service_healthy"


def test_infrastructure_services(services: dict[str, dict[str, Any]]) -> None:
    assert services["postgres"]["image"].startswith("postgres:16.")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["postgres"]["volumes"]
    assert services["redis"]["image"].startswith("redis:7.")
    assert "--appendonly yes" in " ".join(_argv(services["redis"]["command"]))
    assert "healthcheck" in services["redis"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    assert services["proxy"]["image"].startswith("nginx:1.")
    assert services["proxy"]["ports"] == ["127.0.0.1:8000:80"]
    assert any(volume.startswith("./nginx.conf:") for volume in services["proxy"]["volumes"])
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert services["mailpit"]["ports"] == ["127.0.0.1:8025:8025"]
    # The backup dumps with the server's own major version.
    assert services["backup"]["image"] == services["postgres"]["image"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_health_check_limits_and_rotated_logs(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    check = service["healthcheck"]
    if name in ONE_SHOT:
        assert check == {"disable": True}  # it exits when done; dependants wait for its exit code
    else:
        assert check["test"][0] in {"CMD", "CMD-SHELL"}
        assert len(check["test"]) > 1
        assert not check.get("disable")
    assert re.fullmatch(r"\d+[mg]", str(service["mem_limit"])), name
    assert 0 < float(service["cpus"]) <= 4, name
    logging = service["logging"]
    assert logging["driver"] == "json-file"
    assert re.fullmatch(r"\d+m", logging["options"]["max-size"])
    assert int(logging["options"]["max-file"]) >= 2


def test_no_image_has_a_floating_tag(services: dict[str, dict[str, Any]]) -> None:
    images = {name: service["image"] for name, service in services.items() if "build" not in service}
    images |= {
        f"Dockerfile FROM {n}": rest.split()[0]
        for n, (keyword, rest) in enumerate(_dockerfile_instructions())
        if keyword == "FROM"
    }
    assert len(images) >= 8
    for where, image in images.items():
        assert ":" in image or "@sha256:" in image, f"{where}: {image} has no tag (that is `latest`)"
        assert PINNED_IMAGE.fullmatch(image), f"{where}: {image} is not pinned to a release"


def test_only_the_postgres_container_gets_the_database_password(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        environment = service.get("environment", {})
        assert "POSTGRES_PASSWORD" not in environment, name
        assert "HANDOFF_DATABASE_URL" not in environment, name
        assert not any("POSTGRES_PASSWORD" in str(value) for value in environment.values()), name
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    for name in APP_SERVICES:
        assert services[name]["environment"]["HANDOFF_DATABASE_URL_FILE"] == "/run/secrets/database_url"
        assert services[name]["environment"]["HANDOFF_REDIS_URL_FILE"] == "/run/secrets/redis_url"
        assert set(services[name]["secrets"]) == {"database_url", "redis_url"}


# --- .env.example -----------------------------------------------------------------------------------------------


def test_env_example_names_only_settings_fields(env_example: str) -> None:
    names = set(Settings.__struct_fields__) | {f"{field}_file" for field in SECRET_FIELDS}
    for variable in sorted(set(re.findall(r"\bHANDOFF_[A-Z0-9_]+", env_example))):
        assert variable.removeprefix("HANDOFF_").lower() in names, f"{variable} is not a Settings field"


def test_env_example_documents_every_setting(env_example: str) -> None:
    assigned = _env_assignments(env_example)
    for field in Settings.__struct_fields__:
        if field not in NOT_IN_ENV_EXAMPLE:
            assert f"HANDOFF_{field.upper()}" in assigned, f"HANDOFF_{field.upper()} missing from .env.example"


def test_every_env_example_variable_has_a_comment(env_example: str) -> None:
    lines = env_example.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("HANDOFF_"):
            assert index > 0, line
            assert lines[index - 1].startswith("#"), f"no comment line above {line.split('=', 1)[0]}"


def test_env_example_holds_no_secret_and_says_how_to_make_them(env_example: str) -> None:
    assigned = _env_assignments(env_example)
    assert assigned["HANDOFF_JWT_SECRET"] == ""
    assert assigned["HANDOFF_SECRET_KEY"] == ""
    assert "secrets.token_urlsafe(48)" in env_example
    assert "base64.urlsafe_b64encode(os.urandom(32)).decode()" in env_example


def test_env_example_values_are_valid_settings_for_the_compose_network(env_example: str) -> None:
    env = _env_assignments(env_example) | {"HANDOFF_JWT_SECRET": "j" * 64, "HANDOFF_SECRET_KEY": "k" * 43 + "="}
    settings = Settings.from_env(env)
    assert settings.redis_url is None  # from the redis_url secret file in the stack
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == ("mailpit", 1025, False)


# --- nginx.conf -------------------------------------------------------------------------------------------------


def test_nginx_streams_sse_unbuffered(nginx_locations: str) -> None:
    stream = _block(_without_comments(nginx_locations), f"location = {STREAM_PATH}")
    assert re.search(r"^\s*proxy_buffering\s+off;", stream, re.MULTILINE)
    assert re.search(r"^\s*proxy_cache\s+off;", stream, re.MULTILINE)
    assert re.search(r"^\s*proxy_read_timeout\s+1h;", stream, re.MULTILINE)
    assert re.search(r"^\s*proxy_pass\s+http://\$\w+;", stream, re.MULTILINE)


def test_nginx_balances_over_every_api_replica(nginx_conf: str, nginx_locations: str) -> None:
    assert re.search(r"^\s*resolver\s+127\.0\.0\.11\b", _without_comments(nginx_conf), re.MULTILINE)
    conf = _without_comments(nginx_locations)
    # A variable makes nginx resolve `api` at request time, so every scaled replica is used.
    match = re.search(r"^\s*set\s+\$(\w+)\s+api:8000;", conf, re.MULTILINE)
    assert match
    assert len(re.findall(rf"proxy_pass\s+http://\${match[1]};", conf)) == conf.count("proxy_pass")


def test_every_nginx_server_serves_the_same_locations(nginx_conf: str) -> None:
    conf = _without_comments(nginx_conf)
    server = _block(conf, "server {")
    assert re.search(r"^\s*listen\s+80;", server, re.MULTILINE)
    assert re.search(r"^\s*include\s+nginx-locations\.conf;", server, re.MULTILINE)
    tls = _without_comments((DEPLOY / "nginx-tls.conf").read_text())
    assert re.search(r"^\s*listen\s+443\s+ssl;", tls, re.MULTILINE)
    assert re.search(r"^\s*include\s+nginx-locations\.conf;", tls, re.MULTILINE)
    assert re.search(r"^\s*include\s+handoff\.d/\*\.conf;", _block(conf, "http {"), re.MULTILINE)


def test_nginx_forwards_the_address_it_saw_and_skips_unready_replicas(nginx_locations: str) -> None:
    conf = _without_comments(nginx_locations)
    assert re.search(r"^proxy_set_header\s+X-Forwarded-For\s+\$remote_addr;", conf, re.MULTILINE)
    assert "proxy_add_x_forwarded_for" not in conf
    next_upstream = re.search(r"^proxy_next_upstream\s+([^;]+);", conf, re.MULTILINE)
    assert next_upstream
    assert {"error", "timeout", "http_502", "http_503", "http_504"} <= set(next_upstream[1].split())


def test_nginx_has_connections_for_its_sse_clients(nginx_conf: str) -> None:
    conf = _without_comments(nginx_conf)
    connections = int(re.search(r"worker_connections\s+(\d+);", conf)[1])  # type: ignore[index]
    rlimit = int(re.search(r"^worker_rlimit_nofile\s+(\d+);", conf, re.MULTILINE)[1])  # type: ignore[index]
    # Two connections per SSE client: at least 10,000 open streams per worker, and a descriptor for each.
    assert connections // 2 >= 10_000
    assert rlimit >= connections


def test_nginx_uses_http11_and_passes_the_auth_and_resume_headers(nginx_locations: str) -> None:
    server = _without_comments(nginx_locations)
    assert re.search(r"^\s*proxy_http_version\s+1\.1;", server, re.MULTILINE)
    assert re.search(r'^\s*proxy_set_header\s+Connection\s+"";', server, re.MULTILINE)
    assert re.search(r"^\s*proxy_set_header\s+Authorization\s+\$http_authorization;", server, re.MULTILINE)
    assert re.search(r"^\s*proxy_set_header\s+Last-Event-ID\s+\$http_last_event_id;", server, re.MULTILINE)
    # A location with its own proxy_set_header would drop every server-level one.
    for location in re.findall(r"location\s[^{]*\{([^}]*)\}", server):
        assert "proxy_set_header" not in location


# --- Dockerfile -------------------------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_runs_handoff_api_by_default() -> None:
    cmds = [rest for keyword, rest in _dockerfile_instructions() if keyword == "CMD"]
    assert cmds
    argv = json.loads(cmds[-1])
    assert argv[:2] == ["handoff", "api"]
    assert argv == API_ARGV
    build_parser().parse_args(argv[1:])


def test_dockerfile_stages_user_port_and_healthcheck() -> None:
    instructions = _dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert len(froms) >= 2
    assert all(re.match(r"python:3\.11\.\d+-slim", rest) for rest in froms)
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "pip install uv==0.13.8" in runs
    assert "uv sync --frozen --no-dev" in runs
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert ("EXPOSE", "8000") in instructions
    healthchecks = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    assert healthchecks
    assert "/healthz" in healthchecks[-1]
    assert "python" in healthchecks[-1]
    assert "curl" not in healthchecks[-1]
