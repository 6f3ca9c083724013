"""The escalation queue: newest first, the caller's own excluded, stable keyset pages."""

from __future__ import annotations

from tests.support.tenants import TenantFactory


async def test_queue_filters_and_excludes_own(tenants: TenantFactory) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer", riley="engineer")
    junior, sam, riley = tenant["junior"], tenant["sam"], tenant["riley"]
    first = await junior.escalate((await junior.new_session("first"))["id"])
    second = await junior.escalate((await junior.new_session("second"))["id"])
    by_sam = await sam.escalate((await sam.new_session("sam's own"))["id"])
    assert (await riley.post(f"/api/v1/handoffs/{first['id']}/claim")).status_code == 200

    open_for_sam = (await sam.get("/api/v1/ai-sessions/escalations")).json()
    assert [h["id"] for h in open_for_sam["items"]] == [second["id"]]
    assert open_for_sam["next_cursor"] is None
    claimed = (await sam.get("/api/v1/ai-sessions/escalations", params={"status": "claimed"})).json()
    assert [h["id"] for h in claimed["items"]] == [first["id"]]
    everything = (await sam.get("/api/v1/ai-sessions/escalations", params={"status": "all"})).json()
    assert [h["id"] for h in everything["items"]] == [second["id"], first["id"]]
    for_junior = (await junior.get("/api/v1/ai-sessions/escalations", params={"status": "all"})).json()
    assert [h["id"] for h in for_junior["items"]] == [by_sam["id"]]

    viewer = await tenants.add_user(tenant, "viewer", "viewer")
    refused = await viewer.get("/api/v1/ai-sessions/escalations")
    assert refused.status_code == 403


async def test_pages_are_stable_under_inserts(tenants: TenantFactory) -> None:
    tenant = await tenants.create(junior="engineer", senior="engineer")
    junior, senior = tenant["junior"], tenant["senior"]
    created = [(await junior.escalate((await junior.new_session(f"s{i}"))["id"]))["id"] for i in range(7)]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await senior.get("/api/v1/ai-sessions/escalations", params=params)).json()
        seen += [h["id"] for h in page["items"]]
        pages += 1
        if pages == 1:
            # A new escalation lands between pages: it belongs at the top, not in the pages still to come.
            await junior.escalate((await junior.new_session("late"))["id"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))
    assert pages == 3
