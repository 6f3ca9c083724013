"""Operating the API: request ids, metrics outside auth, readiness of the schema, CORS."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from services.handoff_api.app import create_app
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.db.migrate import upgrade
from tests.conftest import JWT_SECRET
from tests.support.db import outbox_rows
from tests.support.tenants import TenantFactory

QUEUE = "/api/v1/ai-sessions/escalations"


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text, 0 when it is absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in metrics.splitlines():
        series, _, value = line.rpartition(" ")
        if series.startswith(name + "{") and ",".join(sorted(series[len(name) + 1 : -1].split(","))) == wanted:
            return float(value)
    return 0.0


async def test_a_401_is_counted_and_no_series_has_a_created_twin(client: httpx.AsyncClient) -> None:
    labels = {"method": "GET", "path": QUEUE, "status": "401"}
    before = sample((await client.get("/metrics")).text, "handoff_http_requests_total", **labels)
    refused = await client.get(QUEUE, headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"
    metrics = (await client.get("/metrics")).text
    assert sample(metrics, "handoff_http_requests_total", **labels) == before + 1
    assert not re.search(r"^\w+_created[{ ]", metrics, re.MULTILINE)  # a label value may say handoff_created
    for name in ("handoff_outbox_lag_seconds", "handoff_sse_event_latency_seconds", "handoff_deliveries_total"):
        assert f"# TYPE {name}" in metrics


async def test_an_unknown_path_is_counted_once_under_one_label(client: httpx.AsyncClient) -> None:
    labels = {"method": "GET", "path": "unmatched", "status": "404"}
    before = sample((await client.get("/metrics")).text, "handoff_http_requests_total", **labels)
    for n in range(3):
        assert (await client.get(f"/no/such/page/{n}")).status_code == 404
    assert sample((await client.get("/metrics")).text, "handoff_http_requests_total", **labels) == before + 3


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("caller-id.1_A", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("bad id", False),
        ("", False),
        ("id;drop", False),
    ],
)
async def test_every_response_carries_a_request_id_the_callers_own_when_valid(
    client: httpx.AsyncClient, sent: str, kept: bool
) -> None:
    response = await client.get(QUEUE, headers={"X-Request-ID": sent})  # no token: a 401 gets one too
    assert response.status_code == 401
    if kept:
        assert response.headers["x-request-id"] == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_a_new_id_for_each_request_without_one(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


async def test_the_escalations_request_id_is_written_into_its_outbox_rows(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await tenants.create(junior="engineer", senior="engineer")
    junior = tenant["junior"]
    session = await junior.new_session("Outlook keeps asking for a password")
    response = await junior.post(
        f"/api/v1/ai-sessions/{session['id']}/handoff",
        json={"intent": "escalate", "note": "MFA loop"},
        headers={"X-Request-ID": "trace-escalation-42"},
    )
    assert response.status_code == 201
    assert response.headers["x-request-id"] == "trace-escalation-42"
    rows = await outbox_rows(runtime, tenant.account_id)
    assert {(row["kind"], row["topic"]) for row in rows} >= {
        ("event", "handoff_created"),
        ("job", "assess"),
        ("job", "notify"),
        ("job", "psa_push"),
    }
    created = [row for row in rows if row["topic"] in {"handoff_created", "assess", "notify", "psa_push"}]
    assert {row["request_id"] for row in created} == {"trace-escalation-42"}


# --- readiness --------------------------------------------------------------------------------------------------


async def test_readyz_names_schema_until_the_database_is_migrated(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    settings = Settings.from_env({}, database_url=url, jwt_secret=JWT_SECRET, secret_key="k" * 43 + "=")
    runtime = Runtime.build(settings)
    try:
        app = create_app(settings, runtime=runtime)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            before = await http.get("/readyz")
            assert before.status_code == 503
            body = before.json()
            assert (body["status_code"], body["code"], body["failed"]) == (503, "unavailable", ["schema"])
            assert "handoff migrate" in body["detail"]
            await asyncio.to_thread(upgrade, url)
            after = await http.get("/readyz")
            assert after.status_code == 200, after.text
            assert after.json() == {"status": "ok"}
    finally:
        await runtime.stop()


# --- CORS -------------------------------------------------------------------------------------------------------


@pytest.fixture
async def cors_client(runtime: Runtime) -> httpx.AsyncClient:
    import msgspec

    settings = msgspec.structs.replace(
        runtime.settings, cors_origins="https://msp.example.com,https://admin.example.com"
    )
    app = create_app(settings, runtime=runtime)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://api.test"
    )


def preflight(origin: str, method: str = "POST", headers: str = "authorization, content-type") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


async def test_a_preflight_from_a_listed_origin_is_allowed(cors_client: httpx.AsyncClient) -> None:
    async with cors_client as http:
        response = await http.options("/api/v1/ai-sessions", headers=preflight("https://admin.example.com"))
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == "https://admin.example.com"
        assert "POST" in response.headers["access-control-allow-methods"]
        allowed = response.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed
        assert "content-type" in allowed
        # The real call then gets the origin back, and may read the request id.
        call = await http.get(QUEUE, headers={"Origin": "https://admin.example.com"})
        assert call.status_code == 401
        assert call.headers["access-control-allow-origin"] == "https://admin.example.com"
        assert "X-Request-ID" in call.headers["access-control-expose-headers"]


async def test_a_preflight_from_an_unlisted_origin_is_refused_with_the_error_body(
    cors_client: httpx.AsyncClient,
) -> None:
    async with cors_client as http:
        response = await http.options("/api/v1/ai-sessions", headers=preflight("https://evil.example.net"))
        assert response.status_code == 403
        body = response.json()
        assert (body["status_code"], body["code"]) == (403, "forbidden")
        assert "HANDOFF_CORS_ORIGINS" in body["detail"]
        assert "access-control-allow-origin" not in response.headers
        call = await http.get(QUEUE, headers={"Origin": "https://evil.example.net"})
        assert "access-control-allow-origin" not in call.headers


async def test_without_a_list_only_the_dashboards_own_origin_is_allowed(client: httpx.AsyncClient) -> None:
    own = await client.options("/api/v1/ai-sessions", headers=preflight("http://127.0.0.1:8000"))
    assert own.status_code == 204
    other = await client.options("/api/v1/ai-sessions", headers=preflight("https://msp.example.com"))
    assert other.status_code == 403
