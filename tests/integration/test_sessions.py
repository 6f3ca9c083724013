"""AI sessions: creation limits, messages, visibility."""

from __future__ import annotations

from tests.support.tenants import TenantFactory


async def test_create_read_and_append(tenants: TenantFactory) -> None:
    tenant = await tenants.create()
    junior = tenant["junior"]
    session = await junior.new_session(
        "VPN drops hourly",
        ticket_ref="T-100",
        context={"client": "Contoso"},
        messages=[{"role": "engineer", "content": "Rebooted firewall", "kind": "step", "step_status": "done"}],
    )
    assert session["status"] == "active"
    assert session["engineer_id"] == str(junior.id)
    assert session["escalation_package"] is None
    assert session["messages"][0]["at"].endswith("Z")

    added = await junior.post(
        f"/api/v1/ai-sessions/{session['id']}/messages",
        json={"role": "assistant", "content": "Check the phase 2 lifetime", "at": "2026-11-26T08:12:09.123Z"},
    )
    assert added.status_code == 201
    assert added.json() == {
        "role": "assistant",
        "content": "Check the phase 2 lifetime",
        "kind": "message",
        "step_status": None,
        "at": "2026-11-26T08:12:09.123Z",
    }

    seen_by_viewer = await tenant["viewer"].get(f"/api/v1/ai-sessions/{session['id']}")
    assert seen_by_viewer.status_code == 200
    assert [m["content"] for m in seen_by_viewer.json()["messages"]] == [
        "Rebooted firewall",
        "Check the phase 2 lifetime",
    ]


async def test_only_the_current_engineer_appends(tenants: TenantFactory) -> None:
    tenant = await tenants.create()
    session = await tenant["junior"].new_session()
    response = await tenant["senior"].post(
        f"/api/v1/ai-sessions/{session['id']}/messages", json={"role": "engineer", "content": "hi"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_limits_are_400_and_huge_bodies_413(tenants: TenantFactory) -> None:
    tenant = await tenants.create()
    junior = tenant["junior"]
    too_many = [{"role": "engineer", "content": "x"}] * 501
    cases = [
        {"title": ""},
        {"title": "x" * 201},
        {"title": "ok", "ticket_ref": "x" * 65},
        {"title": "ok", "messages": too_many},
        {"title": "ok", "messages": [{"role": "robot", "content": "x"}]},
        {"title": "ok", "messages": [{"role": "engineer", "content": ""}]},
        {"title": "ok", "messages": [{"role": "engineer", "content": "x" * 20001}]},
        {"title": "ok", "messages": [{"role": "engineer", "content": "x", "step_status": "maybe"}]},
        {"title": "ok", "context": {"blob": "x" * (64 * 1024)}},
        {"title": "ok", "context": ["not", "an", "object"]},
    ]
    for body in cases:
        response = await junior.post("/api/v1/ai-sessions", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == "validation_error"
        assert response.json()["status_code"] == 400

    malformed = await junior.post(
        "/api/v1/ai-sessions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    huge = await junior.post("/api/v1/ai-sessions", json={"title": "x", "context": {"b": "x" * (1024 * 1024)}})
    assert huge.status_code == 413
    assert huge.json()["status_code"] == 413


async def test_parked_session_is_private_to_its_engineer(tenants: TenantFactory) -> None:
    tenant = await tenants.create()
    session = await tenant["junior"].new_session()
    parked = await tenant["junior"].post(f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "park"})
    assert parked.status_code == 201
    assert (await tenant["junior"].get(f"/api/v1/ai-sessions/{session['id']}")).json()["status"] == "parked"
    assert (await tenant["senior"].get(f"/api/v1/ai-sessions/{session['id']}")).status_code == 404
