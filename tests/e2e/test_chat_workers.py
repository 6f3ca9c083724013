"""Teams and Slack posts made by real `handoff notifier` processes, two of them, against receivers on loopback.

One API replica, one assessor and two notifiers run against PostgreSQL and Redis for the whole module; each test
has an account of its own with a Teams and a Slack destination.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import JWT_SECRET
from tests.support.chat_servers import FakeSlackWebhook, FakeTeamsWorkflow, spacing
from tests.support.mail_stack import MailStack, mail_stack, wait_until
from tests.support.processes import started
from tests.support.smtp import MailCatcher
from tests.support.tenants import Tenant, TenantFactory

CHAT = ("teams", "slack")
WORKERS_ENV = {"HANDOFF_OUTBOUND_ALLOW": "127.0.0.1", "HANDOFF_LOG_LEVEL": "INFO"}


@dataclass
class ChatStack:
    stack: MailStack
    logs: list[Path]  # one per notifier


@pytest.fixture(scope="module")
async def chat_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ChatStack]:
    async with mail_stack(tmp_path_factory.mktemp("chat"), MailCatcher(), seniors=1, env=WORKERS_ENV) as s:
        second = s.cwd / "second"  # its own folder, for its own log
        second.mkdir()
        with started(["notifier"], cwd=s.cwd, env=s.env), started(["notifier"], cwd=second, env=s.env):
            # A first escalation, emailed end to end, so the tests' seconds never include the notifiers' start.
            await s.junior.escalate((await s.junior.new_session("Warm-up"))["id"])
            await wait_until(lambda: len(s.catcher.received) == 1, 60, "the first email")
            yield ChatStack(s, [s.cwd / "handoff-notifier.log", second / "handoff-notifier.log"])


async def account(s: ChatStack, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook) -> Tenant:
    tenant = await TenantFactory(s.stack.junior.http, JWT_SECRET).create(
        junior="engineer", senior="engineer", lead="admin"
    )
    destinations = [
        {"kind": "teams", "label": "Service desk", "url": teams.url},
        {"kind": "slack", "label": "#escalations", "url": slack.url},
    ]
    path = f"/api/v1/accounts/{tenant.account_id}/chat"
    response = await tenant["lead"].request("PUT", path, json={"destinations": destinations})
    assert response.status_code == 200, response.text
    return tenant


def posts_logged(log: Path, kind: str) -> int:
    return sum(1 for line in log.read_text().splitlines() if f"{kind} post 0 for" in line and "sent to" in line)


async def test_two_notifiers_keep_each_destinations_pace(
    chat_stack: ChatStack, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook
) -> None:
    tenant = await account(chat_stack, teams, slack)
    junior = tenant["junior"]
    sessions = [await junior.new_session(f"Escalation {i}") for i in range(6)]
    await asyncio.gather(*(junior.escalate(session["id"]) for session in sessions))

    await wait_until(lambda: len(slack.accepted()) == 6, 60, "six Slack posts")
    await wait_until(lambda: len(teams.accepted()) == 6, 10, "six Teams posts")
    slack_gaps, teams_gaps = spacing(slack), spacing(teams)

    def logged() -> int:
        return sum(posts_logged(log, "slack") for log in chat_stack.logs)

    await wait_until(lambda: logged() == 6, 10, "each notifier's record of its posts")
    by_worker = [posts_logged(log, "slack") for log in chat_stack.logs]
    print(
        f"\nslack posts {min(slack_gaps):.3f}..{max(slack_gaps):.3f} s apart, "
        f"teams {min(teams_gaps):.3f}..{max(teams_gaps):.3f} s apart; slack posts by notifier: {by_worker}"
    )
    assert min(slack_gaps) >= 0.9  # one post a second to one Slack hook, whichever notifier posts
    assert min(teams_gaps) >= 0.2  # four a second to one Teams webhook
    assert {a.status for a in slack.arrivals} == {200}  # paced, so never a 429 to retry


async def test_an_escalation_its_claim_and_their_order_end_to_end(
    chat_stack: ChatStack, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook
) -> None:
    tenant = await account(chat_stack, teams, slack)
    junior, senior = tenant["junior"], tenant["senior"]
    handoff = await junior.escalate((await junior.new_session("<!channel> Exchange queue stuck"))["id"])
    await wait_until(lambda: len(slack.accepted()) == 1 and len(teams.accepted()) == 1, 30, "the first posts")
    assert (await senior.post(f"/api/v1/handoffs/{handoff['id']}/claim")).status_code == 200
    await wait_until(lambda: len(slack.accepted()) == 2 and len(teams.accepted()) == 2, 30, "the follow-ups")

    texts = [m["text"] for m in slack.accepted()]
    assert texts == [
        "New escalation: &lt;!channel&gt; Exchange queue stuck",
        f"Picked up by {senior.name}: &lt;!channel&gt; Exchange queue stuck",
    ]
    cards = [m["attachments"][0]["content"] for m in teams.accepted()]
    assert [c["body"][0]["text"] for c in cards] == ["New escalation", f"Picked up by {senior.name}"]
    assert all(c["version"] == "1.4" for c in cards)
    assert "<!channel>" not in json.dumps([a.body.decode() for a in slack.arrivals])

    rows = (await senior.get(f"/api/v1/handoffs/{handoff['id']}/deliveries")).json()
    chat = sorted((r["channel"], r["recipient"], r["round"], r["status"]) for r in rows if r["channel"] in CHAT)
    assert chat == [
        ("slack", "#escalations", 0, "sent"),
        ("slack", "#escalations", 200, "sent"),
        ("teams", "Service desk", 0, "sent"),
        ("teams", "Service desk", 200, "sent"),
    ]
