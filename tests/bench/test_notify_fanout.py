"""Notify fan-out: an escalation's emails to 20 seniors, and its Teams and Slack posts, timed from the commit.

Real `handoff api`, `handoff assessor` and `handoff notifier` processes on PostgreSQL and Redis. A loopback SMTP
server and a Teams Workflows and a Slack webhook receiver (answering 202 and 200 `ok`, as the vendors do) note when
each message arrived. Two accounts in the same run, each a junior and 20 active seniors: one pages by email only,
the other has a Teams and a Slack destination too. They escalate in turn, one escalation at a time, and each
escalation is timed from its 201 (the commit) to its last email, its Teams post, its Slack post and the last of them.
The email-only figure is the floor the other configuration is read beside.

Two things shape the figures and are the product's own: the `notify` job waits for the assessment (polling every
0.25 s, at most `assessment_wait_s`) so the email can carry its summary, while the chat posts go at once; and a
Slack hook takes one post a second, counted from the answer. Escalations of the account with destinations start at
least SLACK_CLEAR_S after its previous Slack post, so that pace never holds a post back here.

Figures are printed, not asserted; what is asserted is what the seniors see: every email and post arrived, once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from shared.chat import slack as slack_format
from tests.bench.conftest import p50_p99, record, scale
from tests.conftest import JWT_SECRET
from tests.support.chat_servers import ChatReceiver, FakeSlackWebhook, FakeTeamsWorkflow
from tests.support.mail_stack import mail_stack, wait_until
from tests.support.processes import started
from tests.support.smtp import MailCatcher
from tests.support.tenants import Actor, Tenant, TenantFactory

SENIORS = 20
ESCALATIONS = scale(2, 30)  # per configuration
# Each escalation of the account with destinations starts this long after that account's last Slack post: the
# hook's pace (one post a second, counted from the answer) is then never what a figure measures.
SLACK_CLEAR_S = slack_format.INTERVAL_S + 0.5
WORKERS_ENV = {"HANDOFF_OUTBOUND_ALLOW": "127.0.0.1"}
# A session as an engineer leaves it: something for the assessor to read before the email goes out.
MESSAGES = [{"role": "engineer", "content": "Tunnel resets after rekey; phase 2 lifetime checked. " * 4}] * 10
ARRIVAL_TIMEOUT_S = 60


@dataclass(frozen=True)
class Mail:
    at: float  # time.monotonic() when its DATA had arrived
    handoff_id: str
    to: str


@dataclass
class TimedCatcher(MailCatcher):
    """Keeps, beside each accepted message, when it arrived and which escalation it is about."""

    mail: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.monotonic()
        reply = await super().handle_DATA(server, session, envelope)
        if reply.startswith("250"):
            headers = BytesHeaderParser(policy=policy.default).parsebytes(envelope.content)
            self.mail.append(Mail(at, str(headers["X-Handoff-Id"]), str(envelope.rcpt_tos[0])))
        return reply

    def of(self, handoff_id: str) -> list[Mail]:
        return [m for m in list(self.mail) if m.handoff_id == handoff_id]


def posts_of(receiver: ChatReceiver, handoff_id: str) -> list[float]:
    """When each post about the escalation that the receiver took had arrived."""
    return [a.at for a in receiver.arrivals if 200 <= a.status < 300 and handoff_id.encode() in a.body]


@dataclass
class Timing:
    """One escalation: when its 201 came back, and its id."""

    handoff_id: str
    committed: float


@dataclass
class Config:
    name: str
    tenant: Tenant
    chat: bool
    timings: list[Timing] = field(default_factory=list)

    @property
    def junior(self) -> Actor:
        return self.tenant["junior"]


def ms(samples: list[float]) -> list[float]:
    return [s * 1000 for s in samples]


async def test_notify_fan_out_to_20_seniors_by_email_alone_and_with_teams_and_slack(
    tmp_path: Path, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook
) -> None:
    catcher = TimedCatcher()
    async with mail_stack(tmp_path, catcher, seniors=SENIORS, env=WORKERS_ENV) as stack:
        factory = TenantFactory(stack.junior.http, JWT_SECRET)
        with_chat = await factory.create(junior="engineer")
        for n in range(SENIORS):
            await factory.add_user(with_chat, f"senior{n}", "engineer")
        destinations = [
            {"kind": "teams", "label": "Service desk", "url": teams.url},
            {"kind": "slack", "label": "#escalations", "url": slack.url},
        ]
        answer = await with_chat.service.request(
            "PUT", f"/api/v1/accounts/{with_chat.account_id}/chat", json={"destinations": destinations}
        )
        assert answer.status_code == 200, answer.text
        email_only = Config("SMTP only", stack.tenant, chat=False)
        chat = Config("+ Teams + Slack", with_chat, chat=True)

        def arrived(config: Config, handoff_id: str) -> Callable[[], bool]:
            def check() -> bool:
                if len(catcher.of(handoff_id)) < SENIORS:
                    return False
                return not config.chat or bool(posts_of(teams, handoff_id) and posts_of(slack, handoff_id))

            return check

        async def escalate(config: Config, title: str) -> Timing:
            if config.chat and slack.arrivals:
                # real time must pass: Slack's pace clears SLACK_CLEAR_S after its last post
                await asyncio.sleep(max(0.0, max(a.at for a in slack.arrivals) + SLACK_CLEAR_S - time.monotonic()))
            session = await config.junior.new_session(title, messages=MESSAGES)
            handoff = await config.junior.escalate(session["id"])
            timing = Timing(handoff["id"], time.monotonic())
            await wait_until(arrived(config, timing.handoff_id), ARRIVAL_TIMEOUT_S, f"{title}'s emails and posts")
            return timing

        with started(["notifier"], cwd=stack.cwd, env=stack.env):
            # One escalation each first, delivered end to end, so no figure includes the notifier's start or the
            # first connection to the SMTP server or a receiver.
            warm_up = {config.name: await escalate(config, f"Warm-up {config.name}") for config in (email_only, chat)}
            began = time.monotonic()
            for n in range(ESCALATIONS):
                for config in (email_only, chat):
                    config.timings.append(await escalate(config, f"VPN drops every few minutes ({n})"))
            took_s = time.monotonic() - began
            await asyncio.sleep(1.0)  # absence: would a second email or post still arrive?

    # What the seniors see: each escalation's email once to each of the account's seniors, and for the account
    # with destinations one post each to Teams and to Slack; never a post for the email-only account.
    recipients: dict[str, set[str]] = {}
    for config in (email_only, chat):
        for timing in [warm_up[config.name], *config.timings]:
            per_senior = Counter(m.to for m in catcher.of(timing.handoff_id))
            assert list(per_senior.values()) == [1] * SENIORS, per_senior
            assert recipients.setdefault(config.name, set(per_senior)) == set(per_senior)
            expected_posts = 1 if config.chat else 0
            assert len(posts_of(teams, timing.handoff_id)) == expected_posts
            assert len(posts_of(slack, timing.handoff_id)) == expected_posts
    assert not recipients[email_only.name] & recipients[chat.name]
    assert len(catcher.mail) == SENIORS * 2 * (ESCALATIONS + 1)
    # Every post answered as the vendor answers a post it takes: none was refused or throttled.
    assert [a.status for a in teams.arrivals] == [202] * (ESCALATIONS + 1)
    assert [a.status for a in slack.arrivals] == [200] * (ESCALATIONS + 1)

    def after_commit(timings: list[Timing], last: Callable[[str], float]) -> list[float]:
        return ms([last(t.handoff_id) - t.committed for t in timings])

    def last_email(handoff_id: str) -> float:
        return max(m.at for m in catcher.of(handoff_id))

    def first_email(handoff_id: str) -> float:
        return min(m.at for m in catcher.of(handoff_id))

    def teams_post(handoff_id: str) -> float:
        return posts_of(teams, handoff_id)[0]

    def slack_post(handoff_id: str) -> float:
        return posts_of(slack, handoff_id)[0]

    def last_of_all(handoff_id: str) -> float:
        return max(last_email(handoff_id), teams_post(handoff_id), slack_post(handoff_id))

    floor = after_commit(email_only.timings, last_email)
    beside = f"SMTP only {p50_p99(floor)}"
    head = f"notify fan-out, {SENIORS} seniors"
    runs = f"p50 / p99 ({ESCALATIONS} escalations, one at a time)"
    record(
        f"{head}, SMTP only: commit → last email, {runs}",
        p50_p99(floor),
        f"commit → first email {p50_p99(after_commit(email_only.timings, first_email))}",
        "none set; the email waits for the assessment (polled every 0.25 s)",
    )
    record(
        f"{head} + Teams + Slack: commit → last email, {runs}",
        p50_p99(after_commit(chat.timings, last_email)),
        beside,
        "none set; read beside the floor",
    )
    record(
        f"{head} + Teams + Slack: commit → Teams post, {runs}",
        p50_p99(after_commit(chat.timings, teams_post)),
        beside,
        "none set; posted at once, not held for the assessment",
    )
    record(
        f"{head} + Teams + Slack: commit → Slack post, {runs}",
        p50_p99(after_commit(chat.timings, slack_post)),
        beside,
        f"none set; escalations >= {SLACK_CLEAR_S:.1f} s after the last Slack post, so the hook's 1 post/s "
        "pace is not what is measured",
    )
    record(
        f"{head} + Teams + Slack: commit → last of 20 emails and 2 posts, {runs}",
        p50_p99(after_commit(chat.timings, last_of_all)),
        beside,
        "none set; read beside the floor",
    )
    print(f"\n{2 * ESCALATIONS} escalations of the two accounts, in turn, delivered in {took_s:.1f} s")
