"""Reminders and stale-claim nudges from real `handoff notifier` processes, with the policy at 5 s.

Each test runs an API replica, an assessor and one or two notifiers against PostgreSQL and Redis,
and an SMTP server on loopback that records every message.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from shared.bus.base import stream_key
from shared.policy.tables import HandoffTimer
from tests.support.mail_stack import WORKER_REDIS, MailStack, mail_stack, wait_until
from tests.support.processes import started
from tests.support.settled import outstanding
from tests.support.smtp import MailCatcher, Received
from tests.support.waiting import eventually

POLICY = {"unclaimed_reminder_s": {"low": 5, "normal": 5, "high": 5}, "max_reminders": 2, "stale_claim_s": 5}


async def stream_events(account_id: str, event_type: str) -> list[dict[str, Any]]:
    client = redis.asyncio.Redis.from_url(WORKER_REDIS)
    try:
        entries = await client.xrange(stream_key(account_id))
    finally:
        await client.aclose()
    return [json.loads(fields[b"data"]) for _, fields in entries if fields[b"type"] == event_type.encode()]


@asynccontextmanager
async def stack(tmp_path: Path, *, seniors: int = 2, policy: dict[str, Any] = POLICY) -> AsyncIterator[MailStack]:
    """API and assessor running, a tenant with its policy set; the test starts its own notifiers."""
    async with mail_stack(tmp_path, MailCatcher(), seniors=seniors) as s:
        path = f"/api/v1/accounts/{s.tenant.account_id}/escalation-policy"
        assert (await s.tenant.service.request("PUT", path, json=policy)).status_code == 200
        yield s


def subjects(mail: list[Received]) -> list[str]:
    return sorted(str(r.message["Subject"]).strip() for r in mail)


async def test_two_reminders_then_none_each_senior_gets_three_emails(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        with started(["notifier"], cwd=s.cwd, env=s.env):
            handoff = await s.junior.escalate((await s.junior.new_session("Outlook keeps asking for a password"))["id"])
            await wait_until(lambda: len(s.catcher.received) >= 6, 40, "rounds 0, 1 and 2")
            # Sent, and no timer left that could bring a third reminder: none comes.
            await eventually(
                lambda: s.quiet([handoff["id"]]), 30, "the last round sent and no timer to come", interval=0.2
            )
        for senior in s.seniors:
            mail = s.mail_to(senior)
            assert len(mail) == 3
            assert [subject.split("]")[0] for subject in subjects(mail)] == ["[NORMAL", "[Reminder 1", "[Reminder 2"]
            assert len({r.message["Message-ID"] for r in mail}) == 3
        got = (await s.seniors[0].get(f"/api/v1/handoffs/{handoff['id']}")).json()
        assert got["reminders_sent"] == 2
        rows = (await s.seniors[0].get(f"/api/v1/handoffs/{handoff['id']}/deliveries")).json()
        assert sorted((r["round"], r["status"]) for r in rows if r["channel"] == "email") == [
            (0, "sent"),
            (0, "sent"),
            (1, "sent"),
            (1, "sent"),
            (2, "sent"),
            (2, "sent"),
        ]
        reminders = await stream_events(str(s.tenant.account_id), "handoff_reminder")
        assert [e["round"] for e in reminders] == [1, 2]


async def test_a_claim_cancels_pending_reminders_and_a_quiet_claimer_gets_one_nudge(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        with started(["notifier"], cwd=s.cwd, env=s.env):
            handoff = await s.junior.escalate((await s.junior.new_session("VPN drops every ten minutes"))["id"])
            claimer, other = s.seniors
            assert (await claimer.post(f"/api/v1/handoffs/{handoff['id']}/claim")).status_code == 200
            await wait_until(lambda: len(s.mail_to(claimer)) >= 2, 30, "the stale-claim email")
            # The claim cancelled the reminders and the nudge fired once: no timer is left to bring another email.
            await eventually(lambda: s.quiet([handoff["id"]]), 30, "the nudge sent and no timer to come", interval=0.2)
        assert len(s.mail_to(other)) == 1  # the escalation's own email; no reminder after the claim
        assert [subject.split("]")[0] for subject in subjects(s.mail_to(claimer))] == [
            "[NORMAL",
            "[Still working on it?",
        ]
        assert await stream_events(str(s.tenant.account_id), "handoff_reminder") == []
        stale = await stream_events(str(s.tenant.account_id), "handoff_claim_stale")
        assert [e["handoff_id"] for e in stale] == [handoff["id"]]
        timeline = (await other.get(f"/api/v1/handoffs/{handoff['id']}/timeline")).json()
        assert [e["type"] for e in timeline if e["type"] in ("claimed", "claim_stale", "reminder")] == [
            "claimed",
            "claim_stale",
        ]


async def pending_reminder(database_url: str, handoff_id: str) -> tuple[int, datetime] | None:
    """The round and due time of the handoff's pending reminder, read from its row."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    select(HandoffTimer.round, HandoffTimer.due_at).where(
                        HandoffTimer.handoff_id == uuid.UUID(handoff_id),
                        HandoffTimer.kind == "reminder",
                        HandoffTimer.fired_at.is_(None),
                        HandoffTimer.cancelled_at.is_(None),
                    )
                )
            ).first()
    finally:
        await engine.dispose()
    return (int(row[0]), row[1]) if row else None


async def nothing_outstanding(s: MailStack) -> bool:
    """No row to publish, no delivery pending or being sent, no timer due (one still to come may be)."""
    return not await outstanding(s.database_url, s.env["HANDOFF_REDIS_URL"], jobs=False)


async def test_a_notifier_killed_before_a_reminder_is_due_fires_it_once_after_restart(tmp_path: Path) -> None:
    # Due 30 s after the escalation: its emails are sent and recorded well before, even on a loaded machine.
    policy = {**POLICY, "unclaimed_reminder_s": {"low": 30, "normal": 30, "high": 30}, "max_reminders": 1}
    async with stack(tmp_path, policy=policy) as s:
        with started(["notifier"], cwd=s.cwd, env=s.env) as first:
            handoff = await s.junior.escalate((await s.junior.new_session("File share is read-only"))["id"])
            await wait_until(lambda: len(s.catcher.received) >= 2, 30, "the escalation's own emails")
            # Killed between sends, not in the middle of one (that is test_notifier_worker's case): the emails' rows
            # are recorded as sent first, which on a loaded machine can come well after the SMTP server has them.
            await eventually(
                lambda: nothing_outstanding(s), 30, "the escalation's emails recorded as sent", interval=0.2
            )
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        pending = await pending_reminder(s.database_url, handoff["id"])
        assert pending is not None, "the reminder fired before the notifier was killed"
        round, due_at = pending
        assert round == 1
        # Wait out the due time while no notifier runs: the row stays due, nobody fires it.
        # real time must pass: the reminder falls due while no notifier runs
        await asyncio.sleep(max(0.0, (due_at - datetime.now(UTC)).total_seconds()))
        await asyncio.sleep(2)  # absence: no other process fires a due reminder (there is nothing to wait for)
        assert len(s.catcher.received) == 2
        with started(["notifier"], cwd=s.cwd, env=s.env):
            await wait_until(lambda: len(s.catcher.received) >= 4, 30, "the late reminder")
            # Would a second copy still arrive? Not once every row is sent and no timer is left. The killed notifier's
            # job keeps its lease for minutes (see `settled.outstanding`), and it has nothing left to send.
            await eventually(
                lambda: s.quiet([handoff["id"]], jobs=False), 30, "the reminder sent and no timer to come", interval=0.2
            )
        per_senior = Counter(r.to for r in s.catcher.received)
        assert sorted(per_senior.values()) == [2, 2]
        reminders = await stream_events(str(s.tenant.account_id), "handoff_reminder")
        assert [e["round"] for e in reminders] == [1]
        got = (await s.seniors[0].get(f"/api/v1/handoffs/{handoff['id']}")).json()
        assert got["reminders_sent"] == 1
        assert await pending_reminder(s.database_url, handoff["id"]) is None


async def test_two_notifiers_fire_each_reminder_once(tmp_path: Path) -> None:
    async with stack(tmp_path, seniors=3) as s:
        second = s.cwd / "second"  # its own folder, for its own log
        second.mkdir()
        with started(["notifier"], cwd=s.cwd, env=s.env), started(["notifier"], cwd=second, env=s.env):
            handoffs = [
                await s.junior.escalate((await s.junior.new_session(f"Printer {n} offline"))["id"]) for n in range(3)
            ]
            await wait_until(lambda: len(s.catcher.received) >= 27, 45, "three rounds for three escalations")
            # Would a copy, or a fourth round, still arrive? Not once all is sent and no timer is left.
            handoff_ids = [h["id"] for h in handoffs]
            await eventually(
                lambda: s.quiet(handoff_ids), 30, "the last rounds sent and no timer to come", interval=0.2
            )
        assert len(s.catcher.received) == 27
        per_message = Counter(str(r.message["Message-ID"]) for r in s.catcher.received)
        assert set(per_message.values()) == {1}
        reminders = await stream_events(str(s.tenant.account_id), "handoff_reminder")
        assert sorted((e["handoff_id"], e["round"]) for e in reminders) == sorted(
            (h["id"], n) for h in handoffs for n in (1, 2)
        )
