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


async def test_handed_off_lists_my_escalations_that_another_engineer_holds(tenants: TenantFactory) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer", riley="engineer")
    junior, sam, riley = tenant["junior"], tenant["sam"], tenant["riley"]
    first = await junior.new_session("Exchange down")
    second = await junior.new_session("VPN drops")
    first_escalation = await junior.escalate(first["id"])
    second_escalation = await junior.escalate(second["id"])
    assert (await sam.post(f"/api/v1/handoffs/{second_escalation['id']}/claim")).status_code == 200
    assert (await riley.post(f"/api/v1/handoffs/{first_escalation['id']}/claim")).status_code == 200

    # None of these is one of the junior's sessions in someone else's hands.
    await junior.escalate((await junior.new_session("still open"))["id"])
    parked = await junior.new_session("parked")
    park = await junior.post(f"/api/v1/ai-sessions/{parked['id']}/handoff", json={"intent": "park"})
    assert park.status_code == 201
    withdrawn = await junior.escalate((await junior.new_session("withdrawn"))["id"])
    assert (await junior.post(f"/api/v1/handoffs/{withdrawn['id']}/withdraw")).status_code == 200
    by_sam = await sam.escalate((await sam.new_session("sam's, claimed by the junior"))["id"])
    assert (await junior.post(f"/api/v1/handoffs/{by_sam['id']}/claim")).status_code == 200
    by_riley = await riley.escalate((await riley.new_session("riley's, claimed by sam"))["id"])
    assert (await sam.post(f"/api/v1/handoffs/{by_riley['id']}/claim")).status_code == 200
    # Handed on again by its new holder: the latest hand-off is sam's own, no longer the junior's.
    passed_on = await junior.escalate((await junior.new_session("passed on"))["id"])
    assert (await sam.post(f"/api/v1/handoffs/{passed_on['id']}/claim")).status_code == 200
    await sam.escalate(passed_on["session_id"])
    elsewhere = await tenants.create(junior="engineer", senior="engineer")
    theirs = await elsewhere["junior"].escalate((await elsewhere["junior"].new_session("other account"))["id"])
    assert (await elsewhere["senior"].post(f"/api/v1/handoffs/{theirs['id']}/claim")).status_code == 200

    response = await junior.get("/api/v1/ai-sessions", params={"status": "handed_off"})
    assert response.status_code == 200
    page = response.json()
    # Newest hand-off first: riley picked up the first session after sam picked up the second.
    assert [s["id"] for s in page["items"]] == [first["id"], second["id"]]
    assert page["next_cursor"] is None
    line = page["items"][0]
    assert (line["status"], line["engineer_id"]) == ("active", str(riley.id))
    package = line["escalation_package"]
    assert package["handoff_id"] == first_escalation["id"]
    assert package["claimed_by"] == {"id": str(riley.id), "name": riley.name}
    claimed = (await junior.get(f"/api/v1/handoffs/{first_escalation['id']}")).json()
    assert package["claimed_at"] == claimed["claimed_at"]
    assert "messages" not in line
    assert "context" not in line

    # Pages of one go on from the cursor, each session exactly once.
    seen, cursor = [], None
    while True:
        params = {"status": "handed_off", "limit": 1, **({"cursor": cursor} if cursor else {})}
        one = (await junior.get("/api/v1/ai-sessions", params=params)).json()
        seen += [s["id"] for s in one["items"]]
        cursor = one["next_cursor"]
        if cursor is None:
            break
    assert seen == [first["id"], second["id"]]

    # The escalator's own sessions no longer hold it; each engineer sees only their own escalations handed off.
    mine = (await junior.get("/api/v1/ai-sessions", params={"status": "all"})).json()["items"]
    assert first["id"] not in {s["id"] for s in mine}
    for holder, escalation in ((sam, by_sam), (riley, by_riley)):
        lines = (await holder.get("/api/v1/ai-sessions", params={"status": "handed_off"})).json()["items"]
        assert [s["id"] for s in lines] == [escalation["session_id"]]
    other = await elsewhere["junior"].get("/api/v1/ai-sessions", params={"status": "handed_off"})
    assert [s["id"] for s in other.json()["items"]] == [theirs["session_id"]]
