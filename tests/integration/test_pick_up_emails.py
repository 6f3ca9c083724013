"""Pick-up links in the emails, as the seniors' mailboxes (a real SMTP server on loopback) receive them.

Every link here is read from the raw email; the database is searched for the token, which must not be there.
"""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import TextClause, Uuid, bindparam, text, update

from shared.bootstrap import Runtime
from shared.clock import utcnow
from shared.escalations.runner import TimerRunner
from shared.pickup.links import PickUpLinks
from shared.pickup.tokens import LinkKeys
from shared.policy.tables import HandoffTimer
from tests.support.pick_up import emailed_links, emails_for, links_in_html, links_in_text, path_of, token_of
from tests.support.smtp import SMTPServer
from tests.support.tenants import Tenant, TenantFactory

FAST = {"unclaimed_reminder_s": {"low": 5, "normal": 5, "high": 5}, "max_reminders": 2, "stale_claim_s": 5}
URL_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_-]{43,}")
KEY_A = base64.urlsafe_b64encode(b"a" * 32).decode()
KEY_B = base64.urlsafe_b64encode(b"b" * 32).decode()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


async def put_policy(tenant: Tenant, policy: dict[str, Any]) -> None:
    path = f"/api/v1/accounts/{tenant.account_id}/escalation-policy"
    response = await tenant.service.request("PUT", path, json=policy)
    assert response.status_code == 200, response.text


async def escalation(tenant: Tenant, title: str = "Exchange mail flow stopped") -> str:
    junior = tenant["junior"]
    return str((await junior.escalate((await junior.new_session(title))["id"]))["id"])


async def timers_fire(runtime: Runtime, handoff_id: str) -> None:
    """The handoff's pending timers come due, and the timer loop fires them (writing their email rows)."""
    async with runtime.sessionmaker() as db:
        await db.execute(
            update(HandoffTimer)
            .where(HandoffTimer.handoff_id == uuid.UUID(handoff_id), HandoffTimer.fired_at.is_(None))
            .values(due_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()
    await TimerRunner(runtime.sessionmaker).fire_due()


def of_handoff(sql: str) -> TextClause:
    """A raw query whose `:h` is a handoff id, bound as each database stores ids."""
    return text(sql).bindparams(bindparam("h", type_=Uuid()))


async def opens(client: httpx.AsyncClient, link: str) -> int:
    return (await client.get(path_of(link))).status_code


async def test_the_page_and_each_reminder_carry_the_seniors_own_link_in_both_parts(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer", riley="admin", val="viewer")
    await put_policy(tenant, FAST)
    handoff_id = await escalation(tenant)

    paged = await emailed_links(runtime, smtp, handoff_id)
    assert sorted(paged) == ["riley", "sam"]  # never the escalator, never a viewer
    assert paged["sam"] != paged["riley"]  # one link per senior
    for link in paged.values():
        assert link.startswith("https://handoff.example.test/pick-up/")
        assert URL_SAFE_TOKEN.fullmatch(token_of(link)), link  # 43 url-safe characters carry 256 bits
        assert await opens(client, link) == 200

    await timers_fire(runtime, handoff_id)  # the first reminder
    reminded = await emails_for(runtime, smtp, handoff_id, round=1)
    assert sorted(reminded) == ["riley", "sam"]
    for key, mail in reminded.items():
        assert str(mail.message["Subject"]).startswith("[Reminder 1] ")
        assert links_in_text(mail) == links_in_html(mail) == [paged[key]]
        assert f"Pick up as {tenant[key].name}: {paged[key]}" in mail.text()
        assert f"Pick up as {tenant[key].name}</a>" in mail.html()


async def test_the_database_holds_nothing_of_a_token(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer")
    handoff_id = await escalation(tenant)
    token = token_of((await emailed_links(runtime, smtp, handoff_id))["sam"])
    raw = base64.urlsafe_b64decode(token + "=")
    needles = {token, token[:16], token[-16:], raw.hex(), raw.hex()[:32]}
    h = {"h": uuid.UUID(handoff_id)}

    async with runtime.sessionmaker() as db:
        links = (await db.execute(of_handoff("SELECT * FROM pick_up_links WHERE handoff_id = :h"), h)).all()
        assert len(links) == 1  # one link for the one senior paged
        stored = [str(value) for row in links for value in row]
        # What else this escalation wrote: the handoff, its deliveries, its timers and the outbox of the account.
        for query in (
            "SELECT * FROM handoffs WHERE id = :h",
            "SELECT * FROM deliveries WHERE handoff_id = :h",
            "SELECT * FROM handoff_timers WHERE handoff_id = :h",
        ):
            rows = (await db.execute(of_handoff(query), h)).all()
            stored += [str(value) for row in rows for value in row]
        outbox = (await db.execute(text("SELECT * FROM outbox"))).all()
        stored += [str(value) for row in outbox for value in row]
    for needle in needles:
        assert not [value for value in stored if needle in value], needle


async def test_no_link_when_the_account_turns_them_off(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer")
    await put_policy(tenant, {**FAST, "email_pick_up_links": False})
    handoff_id = await escalation(tenant)
    [first] = (await emails_for(runtime, smtp, handoff_id)).values()
    await timers_fire(runtime, handoff_id)
    [reminder] = (await emails_for(runtime, smtp, handoff_id, round=1)).values()
    for mail in (first, reminder):
        assert "/pick-up/" not in mail.text()
        assert "/pick-up/" not in mail.html()
        assert "Pick up as" not in mail.text()
        assert f"/#/handoffs/{handoff_id}" in mail.text()  # the dashboard link is still there


async def test_the_stale_claim_email_carries_no_link(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer")
    await put_policy(tenant, FAST)
    handoff_id = await escalation(tenant)
    assert "sam" in await emailed_links(runtime, smtp, handoff_id)
    assert (await tenant["sam"].post(f"/api/v1/handoffs/{handoff_id}/claim")).status_code == 200
    await timers_fire(runtime, handoff_id)  # the claim went quiet
    [nudge] = (await emails_for(runtime, smtp, handoff_id, round=100)).values()
    assert str(nudge.message["Subject"]).startswith("[Still working on it?] ")
    assert "/pick-up/" not in nudge.text()
    assert "/pick-up/" not in nudge.html()


async def test_two_notifiers_writing_a_seniors_first_emails_at_once_give_them_one_link(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer")
    await put_policy(tenant, FAST)
    handoff_id = await escalation(tenant)
    await timers_fire(runtime, handoff_id)  # the reminder is due before the page went out
    page, reminder = await asyncio.gather(
        emails_for(runtime, smtp, handoff_id), emails_for(runtime, smtp, handoff_id, round=1)
    )
    links = {links_in_text(page["sam"])[0], links_in_text(reminder["sam"])[0]}
    assert len(links) == 1
    async with runtime.sessionmaker() as db:
        query = of_handoff("SELECT count(*) FROM pick_up_links WHERE handoff_id = :h")
        assert (await db.execute(query, {"h": uuid.UUID(handoff_id)})).scalar_one() == 1


async def test_a_new_key_in_front_keeps_every_link_and_dropping_its_key_gives_a_new_one(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer")
    await put_policy(tenant, {**FAST, "max_reminders": 3})
    handoff_id = await escalation(tenant)
    ttl = runtime.settings.pick_up_link_ttl_s

    first = await emailed_links(runtime, smtp, handoff_id, links=PickUpLinks(LinkKeys.from_secret(KEY_A), ttl))
    await timers_fire(runtime, handoff_id)
    rotated = PickUpLinks(LinkKeys.from_secret(f"{KEY_B},{KEY_A}"), ttl)  # `handoff rotate-secrets`' order
    assert await emailed_links(runtime, smtp, handoff_id, round=1, links=rotated) == first

    await timers_fire(runtime, handoff_id)
    dropped = PickUpLinks(LinkKeys.from_secret(KEY_B), ttl)  # the old key is gone: that link cannot be written
    second = await emailed_links(runtime, smtp, handoff_id, round=2, links=dropped)
    assert second["sam"] != first["sam"]
    assert await opens(client, second["sam"]) == 200
    assert await opens(client, first["sam"]) == 404  # one link per senior: the new one took its place


async def test_a_reminder_after_the_link_expired_carries_none(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer")
    await put_policy(tenant, FAST)
    handoff_id = await escalation(tenant)
    one_second = PickUpLinks(LinkKeys.from_secret(runtime.settings.secret_key), ttl_s=1)
    link = (await emailed_links(runtime, smtp, handoff_id, links=one_second))["sam"]
    await asyncio.sleep(1.1)  # real time must pass: the link's one-second lifetime
    await timers_fire(runtime, handoff_id)
    [reminder] = (await emails_for(runtime, smtp, handoff_id, round=1, links=one_second)).values()
    assert "/pick-up/" not in reminder.text()
    assert "/pick-up/" not in reminder.html()
    assert f"/#/handoffs/{handoff_id}" in reminder.text()
    assert await opens(client, link) == 404
