"""`handoff notifier` killed mid-fan-out and restarted: every senior still gets exactly one email."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

from tests.support.mail_stack import mail_stack, wait_until
from tests.support.processes import started
from tests.support.smtp import MailCatcher
from tests.support.tenants import Actor
from tests.support.waiting import eventually

SENIORS = 6
ACCEPTED_BEFORE_KILL = 3


async def sent_count(senior: Actor, handoff_id: str) -> int:
    rows = (await senior.get(f"/api/v1/handoffs/{handoff_id}/deliveries")).json()
    return sum(1 for r in rows if r["channel"] == "email" and r["status"] == "sent")


async def test_a_killed_notifier_resumes_without_sending_twice(tmp_path: Path) -> None:
    catcher = MailCatcher(accept_limit=ACCEPTED_BEFORE_KILL)
    async with mail_stack(tmp_path, catcher, seniors=SENIORS, env={"HANDOFF_JOB_TIMEOUT_S": "3"}) as stack:
        env = stack.env
        seniors = stack.seniors
        junior = stack.junior

        with started(["notifier"], cwd=tmp_path, env=env) as first:
            handoff = await junior.escalate((await junior.new_session("Mail flow stopped"))["id"])
            # "After k sends": k messages accepted and recorded as sent, the rest in flight.

            async def k_sent() -> bool:
                return await sent_count(seniors[0], handoff["id"]) >= ACCEPTED_BEFORE_KILL and catcher.held > 0

            # Patient: the notifier starts, waits for the assessment, then sends; slow on a loaded machine.
            await eventually(k_sent, 60, "the notifier to get k sends out")
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        catcher.accept_limit = None
        catcher.release.set()
        assert len(catcher.received) == ACCEPTED_BEFORE_KILL

        with started(["notifier"], cwd=tmp_path, env=env):
            waited = await wait_until(lambda: len(catcher.received) >= SENIORS, 60, "the remaining emails")
            # Would a duplicate still arrive? Not once everything is sent and nothing is left to run.
            await eventually(stack.quiet, 30, "everything sent, nothing left to send", interval=0.2)
        print(f"\nrestarted notifier finished the fan-out {waited:.1f} s after the kill")

        per_recipient = Counter(r.to for r in catcher.received)
        assert len(per_recipient) == SENIORS
        assert set(per_recipient.values()) == {1}
        rows = (await seniors[0].get(f"/api/v1/handoffs/{handoff['id']}/deliveries")).json()
        emails = [r for r in rows if r["channel"] == "email"]
        assert len(emails) == SENIORS
        assert {r["status"] for r in emails} == {"sent"}
