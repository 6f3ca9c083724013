"""Escalations posted to Teams and Slack receivers on loopback by the notifier's `chat_post` job.

The receivers answer as the vendors do (Teams 202 with no body, Slack 200 `ok`, 429 with Retry-After, 5xx,
404 `no_service`); what a senior would see is read from what the receivers accepted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool
from sqlalchemy import update

from services.assessor.providers.heuristic import HeuristicProvider
from services.assessor.service import AssessHandoff
from services.notifier.chat import PostToChat
from services.notifier.service import RetryLater
from shared.bootstrap import Runtime
from shared.chat.tables import ChatDestinationRow
from shared.clock import utcnow
from shared.crypto import SecretBox
from shared.db.uow import read_only
from shared.deliveries.service import chat_follow_ups_never_written, escalations_never_notified
from shared.deliveries.sweep import notify_sweep
from shared.escalations.runner import TimerRunner
from shared.handoffs.tables import HandoffRow
from shared.jobs.sweeper import Requeue
from shared.outbound.guard import OutboundClients, OutboundPolicy
from shared.pace import InProcessPace, Pace, RedisPace
from shared.policy.tables import HandoffTimer
from tests.conftest import REDIS_URL
from tests.support.chat_servers import FakeSlackWebhook, FakeTeamsWorkflow, spacing
from tests.support.db import outbox_rows
from tests.support.email_jobs import PUBLIC_URL, deliveries
from tests.support.psa_servers import Reply
from tests.support.tenants import Tenant, TenantFactory
from tests.support.waiting import eventually

FAST = {"unclaimed_reminder_s": {"low": 5, "normal": 5, "high": 5}, "max_reminders": 2, "stale_claim_s": 5}


@pytest.fixture
async def outbound(runtime: Runtime) -> AsyncIterator[OutboundClients]:
    """The notifier's own guarded clients, under the runtime's allow-list (loopback for the receivers)."""
    async with OutboundClients(OutboundPolicy.from_allow_list(runtime.settings.outbound_allow), timeout=5) as clients:
        yield clients


def chat_job(runtime: Runtime, outbound: OutboundClients, pace: Pace | None = None) -> PostToChat:
    box = SecretBox(runtime.settings.secret_key)
    return PostToChat(runtime.sessionmaker, box, outbound, pace or runtime.pace, public_url=PUBLIC_URL)


async def team_with_chat(
    tenants: TenantFactory, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook, *, quiet: FakeSlackWebhook | None = None
) -> Tenant:
    """A junior, a senior and an admin; the account posts to a Teams and a Slack destination (and one disabled)."""
    tenant = await tenants.create(junior="engineer", senior="engineer", lead="admin")
    destinations = [
        {"kind": "teams", "label": "Service desk", "url": teams.url, "enabled": True},
        {"kind": "slack", "label": "#escalations", "url": slack.url, "enabled": True},
    ]
    if quiet is not None:
        destinations.append({"kind": "slack", "label": "Quiet", "url": quiet.url, "enabled": False})
    path = f"/api/v1/accounts/{tenant.account_id}/chat"
    response = await tenant["lead"].request("PUT", path, json={"destinations": destinations})
    assert response.status_code == 200, response.text
    return tenant


async def escalate(tenant: Tenant, title: str = "Exchange queue stuck on MX02", **body: Any) -> dict[str, Any]:
    junior = tenant["junior"]
    return await junior.escalate((await junior.new_session(title))["id"], **body)


def link_of(handoff: dict[str, Any]) -> str:
    return f"{PUBLIC_URL}/#/handoffs/{handoff['id']}"


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    return dict(attachment["content"])


def card_texts(card: dict[str, Any]) -> list[str]:
    texts = [block["text"] for block in card["body"] if block["type"] == "TextBlock"]
    for block in card["body"]:
        if block["type"] == "FactSet":
            texts += [f"{fact['title']}: {fact['value']}" for fact in block["facts"]]
    return texts


def shown(markdown: str) -> str:
    """What a Markdown renderer shows of escaped text: each backslash escape as its character."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "")


def section_of(message: dict[str, Any]) -> dict[str, Any]:
    [section] = [block for block in message["blocks"] if block["type"] == "section"]
    return dict(section["text"])


def button_url(message: dict[str, Any]) -> str:
    [actions] = [block for block in message["blocks"] if block["type"] == "actions"]
    [button] = actions["elements"]
    assert button["type"] == "button"
    return str(button["url"])


def chat_rows(rows: list[dict[str, Any]]) -> list[tuple[str, str, int, str]]:
    return sorted((r["channel"], r["recipient"], r["round"], r["status"]) for r in rows if r["channel"] != "email")


async def test_an_escalation_is_posted_at_once_to_each_enabled_destination(
    tenants: TenantFactory,
    runtime: Runtime,
    outbound: OutboundClients,
    teams: FakeTeamsWorkflow,
    slack: FakeSlackWebhook,
) -> None:
    quiet = FakeSlackWebhook()
    await quiet.start()
    try:
        tenant = await team_with_chat(tenants, teams, slack, quiet=quiet)
        handoff = await escalate(tenant, note="Queue at 4,000 messages since 09:10", urgency="high")
        assert handoff["assessment_status"] == "pending"  # no assessor runs here: the post does not wait for one
        jobs = [r["job_id"] for r in await outbox_rows(runtime, tenant.account_id) if r["kind"] == "job"]
        assert f"chat_post:{handoff['id']}" in jobs  # written with the escalation

        job = chat_job(runtime, outbound)
        assert await job({"handoff_id": handoff["id"]}) == "2 chat posts handled"
        assert await job({"handoff_id": handoff["id"]}) == "0 chat posts handled"  # run again, nothing twice
    finally:
        await quiet.stop()
    assert quiet.arrivals == []  # a disabled destination gets nothing

    [message] = teams.accepted()
    card = card_of(message)
    assert tuple(int(part) for part in card["version"].split(".")) <= (1, 4)
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the handoff", "url": link_of(handoff)}]
    texts = [shown(t) for t in card_texts(card)]
    assert texts[:2] == ["New escalation", "Exchange queue stuck on MX02"]
    assert "Urgency: high" in texts
    assert f"Escalated by: {tenant['junior'].name}" in texts
    assert "Queue at 4,000 messages since 09:10" in texts
    assert not any("AI summary" in t for t in texts)

    [posted] = slack.accepted()
    section = section_of(posted)
    assert section["type"] == "mrkdwn"
    assert section["verbatim"] is True
    assert len(section["text"]) <= 3000
    assert "Exchange queue stuck on MX02" in section["text"]
    assert "Urgency: high" in section["text"]
    assert tenant["junior"].name in section["text"]
    assert button_url(posted) == link_of(handoff)
    assert posted["text"] == "New escalation: Exchange queue stuck on MX02"
    assert len(posted["blocks"]) <= 50

    rows = await deliveries(tenant["senior"], handoff["id"])
    assert chat_rows(rows) == [("slack", "#escalations", 0, "sent"), ("teams", "Service desk", 0, "sent")]
    assert all(r["attempts"] == 1 and r["last_error"] is None for r in rows if r["channel"] != "email")


async def test_the_summary_rides_along_when_the_assessment_is_ready(
    tenants: TenantFactory,
    runtime: Runtime,
    outbound: OutboundClients,
    teams: FakeTeamsWorkflow,
    slack: FakeSlackWebhook,
) -> None:
    tenant = await team_with_chat(tenants, teams, slack)
    handoff = await escalate(tenant, "Backups failing on FS01", note="Veeam job fails with VSS error")
    await AssessHandoff(runtime.sessionmaker, HeuristicProvider())({"handoff_id": handoff["id"]})
    summary = (await tenant["senior"].get(f"/api/v1/handoffs/{handoff['id']}")).json()["ai_assessment_data"]["summary"]

    assert await chat_job(runtime, outbound)({"handoff_id": handoff["id"]}) == "2 chat posts handled"
    texts = [shown(t) for t in card_texts(card_of(teams.accepted()[0]))]
    assert "AI summary" in texts
    assert summary.replace("\n", "\n\n") in texts
    assert "*AI summary*" in section_of(slack.accepted()[0])["text"]


HOSTILE_TITLE = "<!channel> [x](https://evil.example) <script>"
HOSTILE_NOTE = (
    "<!here> <@U024BE7LH> <https://evil.example|click me> &amp; *bold* _it_ ~gone~ `code`\n"
    "# Heading\n1. first\n- bullet\n+ plus\n> quoted\n![img](https://evil.example/x.png)\n| a | b |\n"
    "[link](https://evil.example) www.evil.example https://evil.example/raw"
)


async def test_a_tenants_markup_is_shown_as_text_in_teams_and_slack(
    tenants: TenantFactory,
    runtime: Runtime,
    outbound: OutboundClients,
    teams: FakeTeamsWorkflow,
    slack: FakeSlackWebhook,
) -> None:
    tenant = await team_with_chat(tenants, teams, slack)
    handoff = await escalate(tenant, HOSTILE_TITLE, note=HOSTILE_NOTE)
    assert await chat_job(runtime, outbound)({"handoff_id": handoff["id"]}) == "2 chat posts handled"

    [arrival] = [a for a in slack.arrivals if a.status == 200]
    raw = arrival.body.decode()  # the JSON as it went over the wire
    message = json.loads(raw)
    for wire in (raw, json.dumps(message, ensure_ascii=False)):
        assert "<!channel>" not in wire
        assert "<!here>" not in wire
        assert "<@U024" not in wire
        assert "<http" not in wire
        assert "<script>" not in wire
        assert "https://evil.example" not in wire  # no bare URL a client could turn into a link
    section = section_of(message)
    assert section["verbatim"] is True
    assert "&lt;!channel&gt; [x](https:\u200b//evil.example) &lt;script&gt;" in section["text"]
    assert "&amp;amp;" in section["text"]  # the tenant's own "&amp;" is text too
    assert message["text"].startswith("New escalation: &lt;!channel&gt;")
    assert not {"<", ">"} & set(message["text"])
    assert button_url(message) == link_of(handoff)

    card = card_of(teams.accepted()[0])
    texts = card_texts(card)
    for text in texts:
        # Every Markdown character of the tenant is escaped: no link, image, heading, list, quote or emphasis.
        assert not re.search(r"(?<!\\)\[", text), text
        assert not re.search(r"(?<!\\)[*_~`#<>|!&-]", text), text
        assert not re.search(r"(?m)^\s*\d+\.", text), text
        assert "https://evil.example" not in text
    assert r"\[x\]\(https:" in texts[1]
    assert shown(texts[1]) == "<!channel> [x](https://evil.example) <script>"
    assert card["actions"][0]["url"] == link_of(handoff)  # the one link in the card is ours


async def test_a_huge_note_and_summary_are_cut_to_fit_and_the_link_never(
    tenants: TenantFactory,
    runtime: Runtime,
    outbound: OutboundClients,
    teams: FakeTeamsWorkflow,
    slack: FakeSlackWebhook,
) -> None:
    tenant = await team_with_chat(tenants, teams, slack)
    handoff = await escalate(tenant, "Every mailbox over quota")
    # More than the API lets in (a note is at most 4,000 characters, a summary 2,000): what any row might hold.
    note = ("Mailbox \\ *full* ✉️ " * 3500)[:60_000]
    summary = ("Quota «policy» [x](y) " * 3000)[:60_000]
    async with runtime.sessionmaker() as db:
        await db.execute(
            update(HandoffRow)
            .where(HandoffRow.id == uuid.UUID(handoff["id"]))
            .values(note=note, assessment_status="ready", ai_assessment_data={"summary": summary})
        )
        await db.commit()

    assert await chat_job(runtime, outbound)({"handoff_id": handoff["id"]}) == "2 chat posts handled"
    [arrival] = [a for a in teams.arrivals if a.status == 202]
    assert 20_000 < len(arrival.body) <= 28_000  # cut, and not more than it had to be
    card = card_of(arrival.json())
    texts = card_texts(card)
    assert any(t.endswith("…") for t in texts)
    assert card["actions"][0]["url"] == link_of(handoff)

    [message] = slack.accepted()
    text = section_of(message)["text"]
    assert 2_500 < len(text) <= 3000
    assert text.endswith("…")
    assert button_url(message) == link_of(handoff)


async def test_429_and_5xx_are_retried_after_retry_after_and_end_sent(
    tenants: TenantFactory,
    runtime: Runtime,
    outbound: OutboundClients,
    teams: FakeTeamsWorkflow,
    slack: FakeSlackWebhook,
) -> None:
    tenant = await team_with_chat(tenants, teams, slack)
    slack.first_replies = [Reply(429, b"rate_limited", {"Retry-After": "1"})]
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)  # whole seconds: 2..3 s away
    teams.first_replies = [Reply(503, None, {"Retry-After": later})]
    handoff = await escalate(tenant)
    job = chat_job(runtime, outbound)

    with pytest.raises(RetryLater) as retry:
        await job({"handoff_id": handoff["id"]})
    assert 0.9 <= (retry.value.delay_s or 0) <= 3.0  # the job waits as long as it was asked to
    rows = {r["channel"]: r for r in await deliveries(tenant["senior"], handoff["id"])}
    assert (rows["slack"]["status"], rows["slack"]["attempts"]) == ("pending", 1)
    assert rows["slack"]["last_error"] == "slack: post answered HTTP 429"
    assert rows["teams"]["last_error"] == "teams: post answered HTTP 503"

    # Tried again at once: each post still waits for the slot its destination's Retry-After pushed out.
    assert await job({"handoff_id": handoff["id"]}) == "2 chat posts handled"
    assert [a.status for a in slack.arrivals] == [429, 200]
    assert [a.status for a in teams.arrivals] == [503, 202]
    assert spacing(slack)[0] >= 0.9
    assert spacing(teams)[0] >= 0.9
    rows = await deliveries(tenant["senior"], handoff["id"])
    assert {(r["channel"], r["status"], r["attempts"], r["last_error"]) for r in rows if r["channel"] != "email"} == {
        ("slack", "sent", 2, None),
        ("teams", "sent", 2, None),
    }


async def test_another_4xx_fails_the_row_with_its_status_and_nothing_else(
    tenants: TenantFactory,
    runtime: Runtime,
    outbound: OutboundClients,
    teams: FakeTeamsWorkflow,
    slack: FakeSlackWebhook,
) -> None:
    tenant = await team_with_chat(tenants, teams, slack)
    slack.always = Reply(404, b"no_service")
    teams.always = Reply(400, {"error": {"code": "InvalidRequestContent", "message": "banner-text"}})
    handoff = await escalate(tenant)
    job = chat_job(runtime, outbound)
    assert await job({"handoff_id": handoff["id"]}) == "2 chat posts handled"
    assert await job({"handoff_id": handoff["id"]}) == "0 chat posts handled"  # failed is final: no retry
    rows = [r for r in await deliveries(tenant["senior"], handoff["id"]) if r["channel"] != "email"]
    assert sorted((r["channel"], r["recipient"], r["status"], r["attempts"], r["last_error"]) for r in rows) == [
        ("slack", "#escalations", "failed", 1, "slack: post answered HTTP 404"),
        ("teams", "Service desk", "failed", 1, "teams: post answered HTTP 400"),
    ]
    listed = (await tenant["senior"].get(f"/api/v1/handoffs/{handoff['id']}/deliveries")).text
    for secret in (slack.token, teams.sig, "no_service", "banner-text", "127.0.0.1"):
        assert secret not in listed


async def test_a_reminder_posts_once_more_to_each_destination(
    tenants: TenantFactory,
    runtime: Runtime,
    outbound: OutboundClients,
    teams: FakeTeamsWorkflow,
    slack: FakeSlackWebhook,
) -> None:
    tenant = await team_with_chat(tenants, teams, slack)
    policy = f"/api/v1/accounts/{tenant.account_id}/escalation-policy"
    assert (await tenant.service.request("PUT", policy, json=FAST)).status_code == 200
    handoff = await escalate(tenant, note="Still nobody")
    job = chat_job(runtime, outbound)
    assert await job({"handoff_id": handoff["id"]}) == "2 chat posts handled"

    await due_now(runtime, handoff["id"])
    fired = await TimerRunner(runtime.sessionmaker).fire_due()
    assert [(t.kind, t.round) for t in fired if str(t.handoff_id) == handoff["id"]] == [("reminder", 1)]
    jobs = [r["job_id"] for r in await outbox_rows(runtime, tenant.account_id) if r["topic"] == "chat_post"]
    assert f"chat_post:{handoff['id']}:1" in jobs
    assert await job({"handoff_id": handoff["id"], "round": 1}) == "2 chat posts handled"
    assert await job({"handoff_id": handoff["id"], "round": 1}) == "0 chat posts handled"

    assert [shown(card_texts(card_of(m))[0]) for m in teams.accepted()] == [
        "New escalation",
        "Reminder 1: still not picked up",
    ]
    assert [m["text"] for m in slack.accepted()][1].startswith("Reminder 1: still not picked up")
    rows = await deliveries(tenant["senior"], handoff["id"])
    assert chat_rows(rows) == [
        ("slack", "#escalations", 0, "sent"),
        ("slack", "#escalations", 1, "sent"),
        ("teams", "Service desk", 0, "sent"),
        ("teams", "Service desk", 1, "sent"),
    ]


async def due_now(runtime: Runtime, handoff_id: str) -> None:
    """Every pending timer of the handoff is due: what the passing of time does to its rows."""
    async with runtime.sessionmaker() as db:
        await db.execute(
            update(HandoffTimer)
            .where(HandoffTimer.handoff_id == uuid.UUID(handoff_id), HandoffTimer.fired_at.is_(None))
            .values(due_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()


async def test_a_follow_up_waits_for_the_first_post_and_goes_only_where_it_went(
    tenants: TenantFactory,
    runtime: Runtime,
    outbound: OutboundClients,
    teams: FakeTeamsWorkflow,
    slack: FakeSlackWebhook,
) -> None:
    tenant = await team_with_chat(tenants, teams, slack)
    senior = tenant["senior"]
    job = chat_job(runtime, outbound)

    # The first post to Slack answered 429, then the escalation was claimed: it is no longer news, and neither is
    # the follow-up; Teams, which took the first post, gets the follow-up after it.
    slack.first_replies = [Reply(429, b"rate_limited", {"Retry-After": "1"})]
    handoff = await escalate(tenant)
    with pytest.raises(RetryLater):
        await job({"handoff_id": handoff["id"]})
    assert (await senior.post(f"/api/v1/handoffs/{handoff['id']}/claim")).status_code == 200
    jobs = [r["job_id"] for r in await outbox_rows(runtime, tenant.account_id) if r["topic"] == "chat_post"]
    assert f"chat_post:{handoff['id']}:200" in jobs  # written with the claim
    with pytest.raises(RetryLater) as waiting:
        await job({"handoff_id": handoff["id"], "round": 200})  # Slack's waits while its first post is pending
    assert "1 wait for their first post" in str(waiting.value)
    assert await job({"handoff_id": handoff["id"]}) == "0 chat posts handled"
    assert await job({"handoff_id": handoff["id"], "round": 200}) == "0 chat posts handled"
    assert slack.accepted() == []
    assert [shown(card_texts(card_of(m))[0]) for m in teams.accepted()] == [
        "New escalation",
        f"Picked up by {senior.name}",
    ]
    assert card_of(teams.accepted()[1])["actions"][0]["url"] == link_of(handoff)
    rows = [r for r in await deliveries(senior, handoff["id"]) if r["channel"] == "slack"]
    assert sorted((r["round"], r["status"], r["last_error"]) for r in rows) == [
        (0, "skipped", "claimed before the post went out"),
        (200, "skipped", "the escalation's first post was not sent"),
    ]

    # The first post is on its way when the claim comes: the follow-up waits until it has arrived.
    slack.hold = asyncio.Event()
    second = await escalate(tenant, "Disk full on FS01")
    first_post = asyncio.create_task(job({"handoff_id": second["id"]}))
    await eventually(lambda: slack.received >= 2, 10, "the first post to reach Slack")
    assert (await senior.post(f"/api/v1/handoffs/{second['id']}/claim")).status_code == 200
    with pytest.raises(RetryLater):
        await job({"handoff_id": second["id"], "round": 200})
    slack.hold.set()
    assert await first_post == "2 chat posts handled"
    assert await job({"handoff_id": second["id"], "round": 200}) == "1 chat posts handled"
    assert [m["text"] for m in slack.accepted()] == [
        "New escalation: Disk full on FS01",
        f"Picked up by {senior.name}: Disk full on FS01",
    ]
    assert chat_rows(await deliveries(senior, second["id"])) == [
        ("slack", "#escalations", 0, "sent"),
        ("slack", "#escalations", 200, "sent"),
        ("teams", "Service desk", 0, "sent"),
        ("teams", "Service desk", 200, "sent"),
    ]


async def test_a_withdrawal_is_followed_up_and_an_unsent_post_is_skipped(
    tenants: TenantFactory,
    runtime: Runtime,
    outbound: OutboundClients,
    teams: FakeTeamsWorkflow,
    slack: FakeSlackWebhook,
) -> None:
    tenant = await team_with_chat(tenants, teams, slack)
    junior = tenant["junior"]
    job = chat_job(runtime, outbound)

    posted = await escalate(tenant, "Printer offline")
    assert await job({"handoff_id": posted["id"]}) == "2 chat posts handled"
    assert (await junior.post(f"/api/v1/handoffs/{posted['id']}/withdraw")).status_code == 200
    assert await job({"handoff_id": posted["id"], "round": 201}) == "2 chat posts handled"
    assert [m["text"] for m in slack.accepted()][-1] == f"Withdrawn by {junior.name}: Printer offline"

    unsent = await escalate(tenant, "VPN down")
    assert (await junior.post(f"/api/v1/handoffs/{unsent['id']}/withdraw")).status_code == 200
    assert await job({"handoff_id": unsent["id"]}) == "0 chat posts handled"
    assert await job({"handoff_id": unsent["id"], "round": 201}) == "0 chat posts handled"
    assert len(slack.accepted()) == len(teams.accepted()) == 2  # nothing about the VPN at all
    rows = [r for r in await deliveries(tenant["senior"], unsent["id"]) if r["channel"] != "email"]
    assert sorted((r["channel"], r["round"], r["status"], r["last_error"]) for r in rows) == [
        ("slack", 0, "skipped", "withdrawn before the post went out"),
        ("slack", 201, "skipped", "the escalation's first post was not sent"),
        ("teams", 0, "skipped", "withdrawn before the post went out"),
        ("teams", 201, "skipped", "the escalation's first post was not sent"),
    ]


async def test_the_sweeper_queues_chat_only_for_escalations_a_destination_was_enabled_for(
    tenants: TenantFactory,
    runtime: Runtime,
    outbound: OutboundClients,
    teams: FakeTeamsWorkflow,
    slack: FakeSlackWebhook,
) -> None:
    without = await tenants.create(junior="engineer", senior="engineer")
    quiet = await escalate(without, "No chat here")
    tenant = await team_with_chat(tenants, teams, slack)
    lost = await escalate(tenant, "Its job was lost")

    async def never_notified() -> set[tuple[str, str]]:
        async with read_only(runtime.sessionmaker) as db:
            found = await escalations_never_notified(db, older_than_s=0, within_s=3600)
        return {(str(h), job) for h, job in found if str(h) in (quiet["id"], lost["id"])}

    assert "chat_post" not in [r["topic"] for r in await outbox_rows(runtime, without.account_id)]  # no job at all
    assert (quiet["id"], "chat_post") not in await never_notified()  # and nothing looks lost
    assert (lost["id"], "chat_post") in await never_notified()
    assert await chat_job(runtime, outbound)({"handoff_id": lost["id"]}) == "2 chat posts handled"
    assert (lost["id"], "chat_post") not in await never_notified()

    # A destination enabled after an escalation never gets it, however late a job or sweep comes.
    later = await tenants.create(junior="engineer", lead="admin")
    before = await escalate(later, "Before the destination")
    path = f"/api/v1/accounts/{later.account_id}/chat"
    destination = {"kind": "teams", "label": "Desk", "url": teams.url}
    assert (await later["lead"].request("PUT", path, json={"destinations": [destination]})).status_code == 200
    assert (before["id"], "chat_post") not in await never_notified()
    posts = len(teams.arrivals)
    assert await chat_job(runtime, outbound)({"handoff_id": before["id"]}) == "0 chat posts handled"
    assert len(teams.arrivals) == posts

    # A claim whose follow-up job was lost is found again; once its rows exist it is not.
    assert (await tenant["senior"].post(f"/api/v1/handoffs/{lost['id']}/claim")).status_code == 200
    async with read_only(runtime.sessionmaker) as db:
        follow_ups = await chat_follow_ups_never_written(db, older_than_s=0, within_s=3600)
    assert (uuid.UUID(lost["id"]), "chat_post", 200) in follow_ups
    async with read_only(runtime.sessionmaker) as db:
        requeued = await notify_sweep(stale_after_s=0).left_pending(db)
    assert Requeue("chat_post", f"chat_post:{lost['id']}:200", {"handoff_id": lost["id"], "round": 200}) in requeued
    assert await chat_job(runtime, outbound)({"handoff_id": lost["id"], "round": 200}) == "2 chat posts handled"
    async with read_only(runtime.sessionmaker) as db:
        follow_ups = await chat_follow_ups_never_written(db, older_than_s=0, within_s=3600)
    assert (uuid.UUID(lost["id"]), "chat_post", 200) not in follow_ups


@pytest.fixture
async def paces(runtime: Runtime) -> AsyncIterator[list[Pace]]:
    """The pace as two notifier workers hold it: on Redis each its own connections; embedded, the one process's."""
    if runtime.redis_pool is None:
        shared = InProcessPace()
        yield [shared, shared]
        return
    pools = [BlockingConnectionPool.from_url(REDIS_URL, max_connections=4) for _ in range(2)]
    yield [RedisPace(pool) for pool in pools]
    for pool in pools:
        await pool.aclose()


async def test_two_workers_keep_one_pace_per_destination(
    tenants: TenantFactory,
    runtime: Runtime,
    outbound: OutboundClients,
    teams: FakeTeamsWorkflow,
    slack: FakeSlackWebhook,
    paces: list[Pace],
) -> None:
    tenant = await team_with_chat(tenants, teams, slack)
    handoffs = [await escalate(tenant, f"Escalation {i}") for i in range(6)]
    workers = [chat_job(runtime, outbound, pace) for pace in paces]
    await asyncio.gather(*(workers[i % 2]({"handoff_id": h["id"]}) for i, h in enumerate(handoffs)))

    assert len(slack.accepted()) == len(teams.accepted()) == 6
    print(f"\nslack gaps {[round(g, 3) for g in spacing(slack)]}, teams gaps {[round(g, 3) for g in spacing(teams)]}")
    assert min(spacing(slack)) >= 0.9  # one post a second to one Slack hook
    assert min(spacing(teams)) >= 0.2  # four a second to one Teams webhook


async def test_a_url_sealed_under_a_key_no_longer_given_fails_its_posts_and_says_why(
    tenants: TenantFactory,
    runtime: Runtime,
    outbound: OutboundClients,
    teams: FakeTeamsWorkflow,
    slack: FakeSlackWebhook,
) -> None:
    tenant = await team_with_chat(tenants, teams, slack)
    stranger = SecretBox(base64.urlsafe_b64encode(os.urandom(32)).decode())
    async with runtime.sessionmaker() as db:
        await db.execute(
            update(ChatDestinationRow)
            .where(ChatDestinationRow.account_id == tenant.account_id, ChatDestinationRow.label == "#escalations")
            .values(url_encrypted=stranger.seal({"url": slack.url}))
        )
        await db.commit()
    handoff = await escalate(tenant)
    assert await chat_job(runtime, outbound)({"handoff_id": handoff["id"]}) == "1 chat posts handled"
    rows = [r for r in await deliveries(tenant["senior"], handoff["id"]) if r["channel"] in ("teams", "slack")]
    assert sorted((r["channel"], r["status"], r["last_error"]) for r in rows) == [
        ("slack", "failed", "slack: its URL does not open with HANDOFF_SECRET_KEY; save it again"),
        ("teams", "sent", None),
    ]
    answer = await tenant["lead"].post(
        f"/api/v1/accounts/{tenant.account_id}/chat/test", json={"label": "#escalations"}
    )
    assert answer.status_code == 200
    assert (answer.json()["sent"], answer.json()["http_status"]) == (False, None)
    assert "does not open" in answer.json()["detail"]
    assert slack.arrivals == []
