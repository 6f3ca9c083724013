"""Who is paged for an escalation: the notify job, the reminders and the sweeper ask one question."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, update

from shared.bootstrap import Runtime
from shared.clock import utcnow
from shared.db.uow import read_only, unit_of_work
from shared.deliveries.service import escalations_never_notified
from shared.deliveries.tables import Delivery
from shared.directory.who import seniors_to_page
from shared.handoffs.tables import HandoffRow
from tests.support.tenants import Tenant, TenantFactory


async def _escalated_a_minute_ago(runtime: Runtime, tenant: Tenant) -> uuid.UUID:
    """An escalation old enough for the sweeper to look at, whose emails were never written.

    Step 0 writes them with the escalation, so they are taken away again: the sweeper's question is who
    would have been paged, asked of an escalation that has no email rows (one made before steps existed).
    """
    junior = tenant["junior"]
    handoff_id = uuid.UUID((await junior.escalate((await junior.new_session())["id"]))["id"])
    async with unit_of_work(runtime.sessionmaker) as db:
        await db.execute(delete(Delivery).where(Delivery.handoff_id == handoff_id, Delivery.channel == "email"))
        await db.execute(
            update(HandoffRow).where(HandoffRow.id == handoff_id).values(created_at=utcnow() - timedelta(minutes=1))
        )
    return handoff_id


async def _never_notified(runtime: Runtime) -> set[uuid.UUID]:
    async with read_only(runtime.sessionmaker) as db:
        found = await escalations_never_notified(db, older_than_s=30, within_s=3600)
    return {handoff_id for handoff_id, job in found if job == "notify"}


async def test_every_active_senior_but_the_escalator_is_paged_and_no_one_else(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer", riley="admin", olivia="owner", val="viewer")
    await tenants.add_user(tenant, "gone", "engineer", active=False)
    await tenants.add_user(tenant, "left", "engineer")
    left = await tenant.service.request("DELETE", f"/api/v1/accounts/{tenant.account_id}/users/{tenant['left'].id}")
    assert left.status_code == 200, left.text
    elsewhere = await tenants.create(junior="engineer", other="engineer")

    async with read_only(runtime.sessionmaker) as db:
        paged = {user.id for user in await seniors_to_page(db, tenant.account_id, tenant["junior"].id)}
    assert paged == {tenant["sam"].id, tenant["riley"].id, tenant["olivia"].id}
    assert elsewhere["other"].id not in paged

    handoff_id = await _escalated_a_minute_ago(runtime, tenant)
    assert handoff_id in await _never_notified(runtime)


async def test_the_sweeper_leaves_alone_an_escalation_with_no_one_to_page(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await tenants.create(junior="engineer", val="viewer")
    await tenants.add_user(tenant, "gone", "admin", active=False)

    async with read_only(runtime.sessionmaker) as db:
        assert list(await seniors_to_page(db, tenant.account_id, tenant["junior"].id)) == []
    handoff_id = await _escalated_a_minute_ago(runtime, tenant)
    assert handoff_id not in await _never_notified(runtime)
