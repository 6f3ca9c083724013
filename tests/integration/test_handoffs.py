"""Escalate and park: one transaction with the snapshot, the session's new state and the outbox."""

from __future__ import annotations

from shared.bootstrap import Runtime
from tests.support.db import outbox_rows
from tests.support.tenants import TenantFactory


async def test_escalation_snapshots_the_session_and_writes_its_outbox(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create()
    junior = tenant["junior"]
    messages = [{"role": "engineer", "content": f"message {i}"} for i in range(55)]
    messages[3] = {"role": "engineer", "content": "Flushed DNS", "kind": "step", "step_status": "failed"}
    session = await junior.new_session(
        "DNS fails for one site", ticket_ref="T-7", context={"site": "HQ"}, messages=messages
    )

    handoff = await junior.escalate(session["id"], note="Need a second pair of eyes", urgency="high")

    assert handoff["intent"] == "escalate"
    assert handoff["status"] == "open"
    assert handoff["urgency"] == "high"
    assert handoff["created_by"] == {"id": str(junior.id), "name": junior.name}
    assert handoff["claimed_by"] is None
    assert handoff["assessment_status"] == "pending"
    assert handoff["ai_assessment_data"] is None
    snapshot = handoff["snapshot"]
    assert snapshot["title"] == "DNS fails for one site"
    assert snapshot["ticket_ref"] == "T-7"
    assert snapshot["context"] == {"site": "HQ"}
    assert snapshot["message_count"] == 55
    assert len(snapshot["messages"]) == 50
    assert snapshot["messages"][0]["content"] == "message 5"
    assert snapshot["messages"][-1]["content"] == "message 54"
    assert [s["content"] for s in snapshot["steps_tried"]] == ["Flushed DNS"]
    assert snapshot["steps_tried"][0]["step_status"] == "failed"

    after = (await junior.get(f"/api/v1/ai-sessions/{session['id']}")).json()
    assert after["status"] == "escalated"
    assert after["escalation_package"]["handoff_id"] == handoff["id"]

    rows = await outbox_rows(runtime, tenant.account_id)
    assert [(r["kind"], r["topic"], r["job_id"]) for r in rows] == [
        ("event", "handoff_created", None),
        ("job", "assess", f"assess:{handoff['id']}"),
        ("job", "notify", f"notify:{handoff['id']}"),
        ("job", "psa_push", f"psa_push:{handoff['id']}"),
        ("event", "handoff_paged", None),
    ]
    event = rows[0]["payload"]
    assert event["type"] == "handoff_created"
    assert event["handoff_id"] == handoff["id"]
    assert event["session_id"] == session["id"]
    assert event["handoff"]["title"] == "DNS fails for one site"
    assert event["handoff"]["created_by"] == {"id": str(junior.id), "name": junior.name}


async def test_park_announces_nothing_and_only_its_engineer_sees_it(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create()
    junior, senior = tenant["junior"], tenant["senior"]
    session = await junior.new_session()
    response = await junior.post(
        f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "park", "note": "lunch"}
    )
    assert response.status_code == 201
    park = response.json()
    assert park["assessment_status"] == "not_requested"
    assert await outbox_rows(runtime, tenant.account_id) == []

    assert (await junior.get(f"/api/v1/handoffs/{park['id']}")).status_code == 200
    assert (await senior.get(f"/api/v1/handoffs/{park['id']}")).status_code == 404
    assert (await senior.post(f"/api/v1/handoffs/{park['id']}/claim")).status_code == 404
    own_claim = await junior.post(f"/api/v1/handoffs/{park['id']}/claim")
    assert own_claim.status_code == 409
    assert own_claim.json()["code"] == "handoff_not_claimable"
    queue = (await senior.get("/api/v1/ai-sessions/escalations?status=all")).json()
    assert queue["items"] == []

    resumed = await junior.post(f"/api/v1/handoffs/{park['id']}/resume")
    assert resumed.status_code == 200
    assert resumed.json()["status"] == "resumed"
    again = await junior.post(f"/api/v1/handoffs/{park['id']}/resume")
    assert again.status_code == 200
    assert (await junior.get(f"/api/v1/ai-sessions/{session['id']}")).json()["status"] == "active"


async def test_only_an_active_session_is_handed_off(tenants: TenantFactory) -> None:
    tenant = await tenants.create()
    junior = tenant["junior"]
    session = await junior.new_session()
    await junior.escalate(session["id"])
    second = await junior.post(f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "park"})
    assert second.status_code == 409
    assert second.json()["code"] == "session_not_active"


async def test_handoff_body_is_validated(tenants: TenantFactory) -> None:
    tenant = await tenants.create()
    junior = tenant["junior"]
    session = await junior.new_session()
    for body in (
        {"intent": "panic"},
        {"intent": "escalate", "urgency": "now"},
        {"intent": "escalate", "note": "x" * 4001},
        {},
    ):
        response = await junior.post(f"/api/v1/ai-sessions/{session['id']}/handoff", json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "validation_error"


async def test_only_the_engineer_or_an_admin_hands_off(tenants: TenantFactory) -> None:
    tenant = await tenants.create(junior="engineer", senior="engineer", admin="admin")
    session = await tenant["junior"].new_session()
    by_other = await tenant["senior"].post(f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "escalate"})
    assert by_other.status_code == 403
    by_admin = await tenant["admin"].post(f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "escalate"})
    assert by_admin.status_code == 201
    assert by_admin.json()["created_by"]["id"] == str(tenant["admin"].id)


async def test_withdraw_reactivates_and_announces(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create()
    junior, senior = tenant["junior"], tenant["senior"]
    session = await junior.new_session()
    handoff = await junior.escalate(session["id"])

    assert (await senior.post(f"/api/v1/handoffs/{handoff['id']}/withdraw")).status_code == 403
    withdrawn = await junior.post(f"/api/v1/handoffs/{handoff['id']}/withdraw")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    assert (await junior.post(f"/api/v1/handoffs/{handoff['id']}/withdraw")).status_code == 200
    assert (await junior.get(f"/api/v1/ai-sessions/{session['id']}")).json()["status"] == "active"
    topics = [r["topic"] for r in await outbox_rows(runtime, tenant.account_id) if r["kind"] == "event"]
    assert topics == ["handoff_created", "handoff_paged", "handoff_withdrawn"]

    late_claim = await senior.post(f"/api/v1/handoffs/{handoff['id']}/claim")
    assert late_claim.status_code == 409
    assert late_claim.json()["code"] == "handoff_not_claimable"
    assert (await junior.post(f"/api/v1/handoffs/{handoff['id']}/resume")).json()[
        "code"
    ] == "handoff_action_not_allowed"


async def test_claim_hands_the_session_to_the_winner(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer", riley="admin")
    junior, sam, riley = tenant["junior"], tenant["sam"], tenant["riley"]
    session = await junior.new_session()
    handoff = await junior.escalate(session["id"])

    own = await junior.post(f"/api/v1/handoffs/{handoff['id']}/claim")
    assert own.status_code == 403
    assert own.json()["code"] == "cannot_claim_own_handoff"

    won = await sam.post(f"/api/v1/handoffs/{handoff['id']}/claim")
    assert won.status_code == 200
    assert won.json()["status"] == "claimed"
    assert won.json()["claimed_by"] == {"id": str(sam.id), "name": sam.name}
    again = await sam.post(f"/api/v1/handoffs/{handoff['id']}/claim")
    assert again.status_code == 200
    assert again.json()["claimed_at"] == won.json()["claimed_at"]
    # The whole escalation, as the winning claim answered it: the snapshot and who was paged included.
    assert again.json() == won.json()
    assert again.json()["snapshot"]["title"] == session["title"]
    assert again.json()["paged"]

    lost = await riley.post(f"/api/v1/handoffs/{handoff['id']}/claim")
    assert lost.status_code == 409
    assert lost.json()["code"] == "handoff_already_claimed"
    assert lost.json()["claimed_by"] == {"id": str(sam.id), "name": sam.name}
    assert lost.json()["claimed_at"] == won.json()["claimed_at"]

    after = (await sam.get(f"/api/v1/ai-sessions/{session['id']}")).json()
    assert after["status"] == "active"
    assert after["engineer_id"] == str(sam.id)
    assert after["escalation_package"]["status"] == "claimed"
    appended = await sam.post(
        f"/api/v1/ai-sessions/{session['id']}/messages", json={"role": "engineer", "content": "on it"}
    )
    assert appended.status_code == 201
    withdraw = await junior.post(f"/api/v1/handoffs/{handoff['id']}/withdraw")
    assert withdraw.status_code == 409
    assert withdraw.json()["code"] == "handoff_already_claimed"

    events = [r["topic"] for r in await outbox_rows(runtime, tenant.account_id) if r["kind"] == "event"]
    assert events == ["handoff_created", "handoff_paged", "handoff_claimed"]
