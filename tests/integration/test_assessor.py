"""The assessor against servers that speak the OpenAI and Anthropic wire formats."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.assessor.prompt import PROMPT_VERSION
from services.assessor.providers.anthropic import AnthropicProvider
from services.assessor.providers.chat import ChatProvider
from services.assessor.providers.openai import OpenAIProvider
from services.assessor.service import AssessHandoff
from shared.bootstrap import Runtime
from tests.support.ai_servers import FakeAIServer, Flavour, answer, fake_ai_server, hang, status
from tests.support.events import wait_for_events
from tests.support.tenants import TenantFactory

GOOD = {
    "summary": "Outlook re-prompts because the cached token predates the tenant migration.",
    "likely_causes": [{"cause": "Stale token in the WAM broker", "confidence": 0.6}],
    "suggested_steps": [
        "Sign out of all Office apps and clear the AAD broker plugin folder",
        "Check the user's MFA state",
    ],
    "missing_info": ["Whether other migrated users see it"],
    "risk": "medium",
}
API_KEY = "test-key-for-the-fake-server"


def provider_for(fake: FakeAIServer, timeout_s: float = 2.0) -> ChatProvider:
    cls = OpenAIProvider if fake.flavour == "openai" else AnthropicProvider
    return cls(base_url=fake.base_url, api_key=API_KEY, model="test-model", timeout_s=timeout_s, backoff_s=0.01)


async def escalated(tenants: TenantFactory, **session: Any) -> tuple[Any, dict[str, Any]]:
    tenant = await tenants.create()
    junior = tenant["junior"]
    body = {"title": "Outlook keeps asking for the password", "ticket_ref": "4711", **session}
    created = await junior.post("/api/v1/ai-sessions", json=body)
    handoff = await junior.escalate(created.json()["id"], note="Started after the M365 migration")
    return tenant, handoff


async def assess(runtime: Runtime, provider: ChatProvider, handoff: dict[str, Any]) -> str:
    try:
        return await AssessHandoff(runtime.sessionmaker, provider)({"handoff_id": handoff["id"]})
    finally:
        await provider.close()


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
async def test_a_good_answer_is_stored_and_announced(
    flavour: Flavour, tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant, handoff = await escalated(tenants)
    async with fake_ai_server(flavour) as fake:
        fake.then(answer(json.dumps(GOOD)))
        assert await assess(runtime, provider_for(fake), handoff) == "ready"

    sent = fake.requests[0]
    if flavour == "openai":
        assert sent.path == "/v1/chat/completions"
        assert sent.headers["authorization"] == f"Bearer {API_KEY}"
        assert sent.json["response_format"] == {"type": "json_object"}
        prompt = sent.json["messages"][-1]["content"]
    else:
        assert sent.path == "/v1/messages"
        assert sent.headers["x-api-key"] == API_KEY
        assert sent.headers["anthropic-version"] == "2023-06-01"
        assert "JSON" in sent.json["system"]
        prompt = sent.json["messages"][-1]["content"]
    assert sent.json["model"] == "test-model"
    assert "Outlook keeps asking for the password" in prompt
    assert "Started after the M365 migration" in prompt

    stored = (await tenant["senior"].get(f"/api/v1/handoffs/{handoff['id']}")).json()
    assert stored["assessment_status"] == "ready"
    data = stored["ai_assessment_data"]
    assert {k: data[k] for k in GOOD} == GOOD
    assert data["provider"] == flavour
    assert data["model"] == "test-model"
    assert data["prompt_version"] == PROMPT_VERSION
    assert data["generated_at"].endswith("Z")
    events = await wait_for_events(runtime, str(tenant.account_id), 3)
    assert [e["type"] for e in events] == ["handoff_created", "handoff_paged", "handoff_assessment_ready"]
    assert events[2]["handoff"]["assessment_status"] == "ready"


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
async def test_malformed_json_gets_one_repair(flavour: Flavour, tenants: TenantFactory, runtime: Runtime) -> None:
    tenant, handoff = await escalated(tenants)
    async with fake_ai_server(flavour) as fake:
        fake.then(
            answer("Sure! Here is the assessment: {summary: oops"), answer("```json\n" + json.dumps(GOOD) + "\n```")
        )
        assert await assess(runtime, provider_for(fake), handoff) == "ready"
    assert len(fake.requests) == 2
    repair_turns = fake.requests[1].json["messages"]
    assert repair_turns[-2]["role"] == "assistant"
    assert "could not be used" in repair_turns[-1]["content"]
    stored = (await tenant["senior"].get(f"/api/v1/handoffs/{handoff['id']}")).json()
    assert stored["ai_assessment_data"]["summary"] == GOOD["summary"]


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
async def test_a_schema_miss_twice_falls_back_to_the_rules(
    flavour: Flavour, tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant, handoff = await escalated(tenants)
    wrong = json.dumps({**GOOD, "suggested_steps": []})
    async with fake_ai_server(flavour) as fake:
        fake.then(answer(wrong), answer(wrong))
        assert await assess(runtime, provider_for(fake), handoff) == "failed"
    assert len(fake.requests) == 2
    stored = (await tenant["senior"].get(f"/api/v1/handoffs/{handoff['id']}")).json()
    assert stored["assessment_status"] == "failed"
    assert stored["ai_assessment_data"]["provider"] == "heuristic"


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
async def test_rate_limit_then_success(flavour: Flavour, tenants: TenantFactory, runtime: Runtime) -> None:
    tenant, handoff = await escalated(tenants)
    async with fake_ai_server(flavour) as fake:
        fake.then(status(429), answer(json.dumps(GOOD)))
        assert await assess(runtime, provider_for(fake), handoff) == "ready"
    assert len(fake.requests) == 2
    stored = (await tenant["senior"].get(f"/api/v1/handoffs/{handoff['id']}")).json()
    assert stored["assessment_status"] == "ready"
    assert stored["ai_assessment_data"]["provider"] == flavour


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
async def test_a_hang_past_the_timeout_fails_to_the_rules(
    flavour: Flavour, tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant, handoff = await escalated(
        tenants, messages=[{"role": "engineer", "content": "Outlook prompts for credentials every 5 minutes"}]
    )
    async with fake_ai_server(flavour) as fake:
        fake.then(hang(5))
        assert await assess(runtime, provider_for(fake, timeout_s=0.5), handoff) == "failed"
    stored = (await tenant["senior"].get(f"/api/v1/handoffs/{handoff['id']}")).json()
    assert stored["assessment_status"] == "failed"
    data = stored["ai_assessment_data"]
    assert data["provider"] == "heuristic"
    assert 1 <= len(data["suggested_steps"]) <= 8
    events = await wait_for_events(runtime, str(tenant.account_id), 2)
    assert events[-1]["type"] == "handoff_assessment_ready"
    assert events[-1]["handoff"]["assessment_status"] == "failed"


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
async def test_server_errors_every_time_fail_after_retries(
    flavour: Flavour, tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant, handoff = await escalated(tenants)
    async with fake_ai_server(flavour) as fake:
        fake.then(status(500), status(502), status(503), status(500))
        assert await assess(runtime, provider_for(fake), handoff) == "failed"
    assert len(fake.requests) == 3
    stored = (await tenant["senior"].get(f"/api/v1/handoffs/{handoff['id']}")).json()
    assert stored["assessment_status"] == "failed"
    assert stored["ai_assessment_data"]["provider"] == "heuristic"


async def test_a_job_run_twice_writes_once(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant, handoff = await escalated(tenants)
    async with fake_ai_server("openai") as fake:
        fake.then(answer(json.dumps(GOOD)), answer(json.dumps({**GOOD, "summary": "a second opinion"})))
        assert await assess(runtime, provider_for(fake), handoff) == "ready"
        assert await assess(runtime, provider_for(fake), handoff) == "nothing to do"
    assert len(fake.requests) == 1
    stored = (await tenant["senior"].get(f"/api/v1/handoffs/{handoff['id']}")).json()
    assert stored["ai_assessment_data"]["summary"] == GOOD["summary"]
    events = await wait_for_events(runtime, str(tenant.account_id), 2)
    assert [e["type"] for e in events].count("handoff_assessment_ready") == 1


SECRETS = {
    "password": "Tr0ub4dor&3-horse",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "aws_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXZhbHVl",
    "pem": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
    "conn": "Sup3rS3cret!",
}


async def test_secrets_never_reach_an_external_provider(tenants: TenantFactory, runtime: Runtime) -> None:
    messages = [
        {"role": "engineer", "content": f"Tried logging in as admin with password: {SECRETS['password']}"},
        {
            "role": "engineer",
            "content": f"The backup script uses {SECRETS['aws']} / aws_secret_access_key={SECRETS['aws_secret']}",
        },
        {"role": "assistant", "content": f"curl -H 'Authorization: Bearer {SECRETS['bearer']}' https://api.example"},
        {
            "role": "engineer",
            "content": f"-----BEGIN PRIVATE KEY-----\n{SECRETS['pem']}\nabcdef\n-----END PRIVATE KEY-----",
            "kind": "step",
            "step_status": "failed",
        },
    ]
    context = {"sql": f"Server=sql01;Database=erp;User Id=sa;Password={SECRETS['conn']};", "api_token": "tok-123456"}
    for flavour in ("openai", "anthropic"):
        _, handoff = await escalated(tenants, messages=messages, context=context)
        async with fake_ai_server(flavour) as fake:  # type: ignore[arg-type]
            fake.then(answer(json.dumps(GOOD)))
            assert await assess(runtime, provider_for(fake), handoff) == "ready"
        raw = fake.requests[0].raw.decode()
        for name, secret in SECRETS.items():
            assert secret not in raw, f"{name} reached the {flavour} provider"
        assert "tok-123456" not in raw
        assert "[REDACTED]" in raw
        assert "backup script" in raw  # the rest of the transcript still goes
