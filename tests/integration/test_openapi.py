"""The OpenAPI document lists the contract's error body per status code, and the stream as text/event-stream."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.tenants import TenantFactory

ERROR_REF = "#/components/schemas/ErrorBody"
STREAM = "/api/v1/ai-sessions/escalations/stream"


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_every_error_response_is_the_one_error_body(document: dict[str, Any]) -> None:
    for method, path, op in operations(document):
        errors = {code: r for code, r in op["responses"].items() if int(code) >= 400}
        assert "401" in errors, f"{method} {path} does not list 401"
        for code, response in errors.items():
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR_REF}, f"{method} {path} {code}: {schema}"
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"status_code", "code", "detail"}
    assert {"claimed_by", "claimed_at", "errors", "retry_after_s"} <= set(body["properties"])


def test_each_operation_lists_the_codes_it_can_answer(document: dict[str, Any]) -> None:
    paths = document["paths"]
    claim = paths["/api/v1/handoffs/{handoff_id}/claim"]["post"]["responses"]
    assert {"401", "403", "404", "409", "429"} <= set(claim)
    assert "claimed_by" in claim["409"]["description"]
    assert "cannot_claim_own_handoff" in claim["403"]["description"]
    create = paths["/api/v1/ai-sessions"]["post"]["responses"]
    assert {"400", "401", "403", "413", "429"} <= set(create)
    assert "404" not in create
    assert "429" not in paths["/api/v1/handoffs/{handoff_id}"]["get"]["responses"]


def test_the_stream_is_documented_as_server_sent_events(document: dict[str, Any]) -> None:
    stream = document["paths"][STREAM]["get"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert {"401", "403", "429", "503"} <= set(stream["responses"])
    assert [p["name"] for p in stream["parameters"]] == ["Last-Event-ID"]


def test_operators_endpoints_stay_out_of_the_api_description(document: dict[str, Any]) -> None:
    assert not {"/metrics", "/healthz", "/readyz"} & set(document["paths"])


async def test_real_error_answers_fit_the_documented_body(tenants: TenantFactory, document: dict[str, Any]) -> None:
    properties = document["components"]["schemas"]["ErrorBody"]["properties"]
    tenant = await tenants.create(junior="engineer", senior="engineer", other="engineer")
    junior, senior, other = tenant["junior"], tenant["senior"], tenant["other"]
    handoff = await junior.escalate((await junior.new_session("Disk full on FS01"))["id"])
    assert (await senior.post(f"/api/v1/handoffs/{handoff['id']}/claim")).status_code == 200
    answers = [
        await other.post(f"/api/v1/handoffs/{handoff['id']}/claim"),  # 409 naming the winner
        await junior.post(f"/api/v1/handoffs/{handoff['id']}/claim"),  # 403 own handoff
        await senior.get("/api/v1/handoffs/00000000-0000-4000-a000-000000000000"),  # 404
        await senior.post("/api/v1/ai-sessions", json={"title": ""}),  # 400
        await senior.get("/api/v1/ai-sessions/escalations", headers={"Authorization": "Bearer nope"}),  # 401
    ]
    assert [a.status_code for a in answers] == [409, 403, 404, 400, 401]
    for answer in answers:
        body = answer.json()
        assert set(body) <= set(properties), body
        assert isinstance(body["status_code"], int)
        assert body["status_code"] == answer.status_code
        assert isinstance(body["code"], str)
        assert isinstance(body["detail"], str)
    assert set(answers[0].json()["claimed_by"]) == {"id", "name"}


async def test_every_operation_with_an_id_in_its_path_lists_the_routers_404(
    client: httpx.AsyncClient, tenants: TenantFactory, document: dict[str, Any]
) -> None:
    owner = (await tenants.create(owner="owner"))["owner"]
    for method, path, op in operations(document):
        if "{" not in path:
            continue
        assert "404" in op["responses"], f"{method} {path}"
        malformed = path.replace("{", "x").replace("}", "")  # every id in the path not a UUID
        answer = await owner.request(method.upper(), malformed, json={})
        assert answer.status_code == 404, f"{method} {malformed}: {answer.status_code}"
        assert answer.json()["code"] == "not_found"
