"""Operating the real processes: one escalation followed through three processes' JSON logs, secrets never
logged, readiness before and after `handoff migrate`, worker health checks, worker metrics."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.conftest import JWT_SECRET, PG_ADMIN_DSN, _admin, _sqlalchemy_url, fresh_pg_database, redis_db_url
from tests.support.processes import HANDOFF, api_env, clean_env, running, spare_port, started
from tests.support.psa_servers import FakeConnectWise
from tests.support.smtp import SMTPServer
from tests.support.tenants import Actor, TenantFactory
from tests.support.waiting import eventually

WORKER_REDIS = redis_db_url(1)
SMTP_USER = "handoff-mailer"
SMTP_PASSWORD = "smtp-pw-" + secrets.token_urlsafe(12)
SENIORS = 2


class AuthenticatingSMTPServer(SMTPServer):
    """The mail catcher behind a login, so the notifier has an SMTP password to keep out of its logs."""

    def start(self) -> None:
        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
            return AuthResult(success=ok)

        self._controller = Controller(
            self.catcher, hostname="127.0.0.1", port=self.port, authenticator=authenticate, auth_require_tls=False
        )
        self._controller.start()


async def flush(url: str) -> None:
    client = redis.asyncio.Redis.from_url(url)
    await client.flushdb()
    await client.aclose()


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a process's output, each of which must be one JSON object with the contract's keys."""
    lines = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"{path.name}:{number} is not JSON: {line!r}") from exc
        assert isinstance(record, dict), line
        assert {"ts", "level", "logger", "event"} <= set(record), line
        lines.append(record)
    assert lines, f"{path.name} is empty"
    return lines


async def test_one_escalation_is_followed_through_the_json_logs_of_api_assessor_and_notifier(tmp_path: Path) -> None:
    await flush(WORKER_REDIS)
    smtp = AuthenticatingSMTPServer()
    smtp.start()
    vendor = FakeConnectWise({8812})
    await vendor.start()
    port = spare_port()
    tokens: list[str] = []
    request_id = "e2e-" + secrets.token_hex(8)
    try:
        with fresh_pg_database() as database_url:
            env = api_env(database_url, WORKER_REDIS, JWT_SECRET) | {
                "HANDOFF_LOG_LEVEL": "INFO",
                "HANDOFF_SMTP_HOST": "127.0.0.1",
                "HANDOFF_SMTP_PORT": str(smtp.port),
                "HANDOFF_SMTP_STARTTLS": "false",
                "HANDOFF_SMTP_USERNAME": SMTP_USER,
                "HANDOFF_SMTP_PASSWORD": SMTP_PASSWORD,
                "HANDOFF_OUTBOUND_ALLOW": "127.0.0.1",  # the fake PSA vendor is on loopback
            }
            with (
                running(["api"], cwd=tmp_path, env=env, port=port) as (_, api_log),
                started(["assessor"], cwd=tmp_path, env=env),
                started(["notifier"], cwd=tmp_path, env=env),
            ):
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                    factory = TenantFactory(http, JWT_SECRET)
                    tenant = await factory.create(junior="engineer")
                    seniors = [await factory.add_user(tenant, f"senior{i}", "engineer") for i in range(SENIORS)]
                    junior = tenant["junior"]
                    tokens += [tenant.service.token, junior.token, *(s.token for s in seniors)]
                    connection = vendor.connection()
                    put = await tenant.service.request(
                        "PUT",
                        f"/api/v1/accounts/{tenant.account_id}/psa",
                        json={
                            "provider": "connectwise",
                            "base_url": connection.base_url,
                            "credentials": connection.credentials,
                            "enabled": True,
                        },
                    )
                    assert put.status_code == 200, put.text
                    session = await junior.new_session("VPN drops every ten minutes", ticket_ref="8812")
                    response = await junior.post(
                        f"/api/v1/ai-sessions/{session['id']}/handoff",
                        json={"intent": "escalate", "note": "Tunnel resets, rekey suspected"},
                        headers={"X-Request-ID": request_id},
                    )
                    assert response.status_code == 201, response.text
                    assert response.headers["x-request-id"] == request_id
                    handoff_id = response.json()["id"]

                    async def everything_sent(senior: Actor = seniors[0]) -> bool:
                        rows = (await senior.get(f"/api/v1/handoffs/{handoff_id}/deliveries")).json()
                        done = [r for r in rows if r["status"] == "sent"]
                        return len(done) == SENIORS + 1  # one email per senior and the PSA note

                    await eventually(everything_sent, 60, "the emails and the PSA note")
                    stored = (await seniors[0].get(f"/api/v1/handoffs/{handoff_id}")).json()
                    assert stored["assessment_status"] == "ready"
            logs = {
                "api": api_log,
                "assessor": tmp_path / "handoff-assessor.log",
                "notifier": tmp_path / "handoff-notifier.log",
            }
            parsed = {name: json_lines(path) for name, path in logs.items()}
    finally:
        await vendor.stop()
        smtp.stop()
    assert len(smtp.catcher.received) == SENIORS
    assert len(vendor.stored()) == 1

    print(f"\none escalation (X-Request-ID {request_id}) through the JSON logs:")
    for name, records in parsed.items():
        ours = [r for r in records if r.get("request_id") == request_id]
        assert ours, f"the {name} log has no line with the escalation's request id"
        print(f"--- {name} ({len(ours)} of {len(records)} lines)")
        for record in ours[:4]:
            print(json.dumps(record))
    api_access = [r for r in parsed["api"] if r["logger"] == "uvicorn.access" and r.get("request_id") == request_id]
    assert [r["status"] for r in api_access] == [201]
    assessed = {r.get("job") for r in parsed["assessor"] if r.get("request_id") == request_id}
    notified = {r.get("job") for r in parsed["notifier"] if r.get("request_id") == request_id}
    assert "assess" in assessed
    assert {"notify", "psa_push"} <= notified

    # No secret of the run is in any line any process wrote.
    texts = {name: path.read_text() for name, path in logs.items()}
    credentials = vendor.credentials
    leaks = {
        "JWT secret": JWT_SECRET,
        "secret key": env["HANDOFF_SECRET_KEY"],
        "SMTP password": SMTP_PASSWORD,
        "PSA private key": credentials["private_key"],
        "PSA client id": credentials["client_id"],
        **{f"token {n}": token for n, token in enumerate(tokens)},
    }
    for name, text in texts.items():
        for what, secret in leaks.items():
            assert secret not in text, f"the {name} log holds the {what}"


# --- readiness before and after `handoff migrate` ---------------------------------------------------------------


@contextmanager
def empty_pg_database() -> Iterator[str]:
    name = f"handoff_empty_{os.getpid()}_{secrets.token_hex(3)}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield _sqlalchemy_url(PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}")
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_readyz_is_503_naming_schema_before_handoff_migrate_and_200_after(tmp_path: Path) -> None:
    await flush(WORKER_REDIS)
    port = spare_port()
    with empty_pg_database() as database_url:
        env = api_env(database_url, WORKER_REDIS, JWT_SECRET)  # HANDOFF_LOG_LEVEL=WARNING
        with running(["api"], cwd=tmp_path, env=env, port=port) as (_, log_path):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                before = await http.get("/readyz")
                assert before.status_code == 503
                assert before.json()["failed"] == ["schema"]
                migrate = subprocess.run(
                    [HANDOFF, "migrate"], cwd=tmp_path, env=clean_env(env), capture_output=True, text=True, timeout=120
                )
                assert migrate.returncode == 0, migrate.stdout + migrate.stderr
                after = await http.get("/readyz")
                assert after.status_code == 200, after.text
    # HANDOFF_LOG_LEVEL reaches uvicorn: at WARNING, none of its INFO lines (access lines included).
    levels = {record["level"] for record in json_lines(log_path)} if log_path.read_text().strip() else set()
    assert levels <= {"warning", "error", "critical"}


# --- worker health checks and metrics ---------------------------------------------------------------------------


def check(kind: str, env: dict[str, str], cwd: Path) -> int:
    result = subprocess.run(
        [HANDOFF, kind, "--check"], cwd=cwd, env=clean_env(env), capture_output=True, text=True, timeout=30
    )
    return result.returncode


async def test_check_is_0_while_a_worker_runs_and_1_after_it_stops(tmp_path: Path) -> None:
    await flush(WORKER_REDIS)
    metrics_port = spare_port()
    with fresh_pg_database() as database_url:
        env = api_env(database_url, WORKER_REDIS, JWT_SECRET)
        assert check("assessor", env, tmp_path) == 1  # none has run yet
        worker_env = env | {"HANDOFF_WORKER_METRICS_PORT": str(metrics_port)}
        with started(["assessor"], cwd=tmp_path, env=worker_env) as worker:

            async def healthy() -> bool:
                return await asyncio.to_thread(check, "assessor", env, tmp_path) == 0

            await eventually(healthy, 30, "the assessor to report itself healthy")
            assert check("notifier", env, tmp_path) == 1  # a worker of the other kind is not running
            metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
            assert "# TYPE handoff_jobs_started_total counter" in metrics
            assert "# TYPE handoff_deliveries_total counter" in metrics
            assert not re.search(r"^\w+_created[{ ]", metrics, re.MULTILINE)  # a label value may say handoff_created
            worker.terminate()
            worker.wait(timeout=30)
        assert check("assessor", env, tmp_path) == 1
