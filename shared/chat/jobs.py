"""The chat job of a round: written in the transaction of what it posts about (a reminder, a claim, a withdrawal).

Round 0 is the escalation's own post (its job is written with the escalation, like every channel's); round n its
n-th reminder; the follow-ups have rounds of their own, well clear of the reminders (1..10) and the stale-claim
email (100).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from shared.channels import TEAMS, round_job_id
from shared.chat.service import has_chat_destinations
from shared.outbox.writer import add_job

CHAT_JOB = TEAMS.job  # every chat channel is sent by the one job
CLAIMED_ROUND = 200  # "Picked up by <name>"
WITHDRAWN_ROUND = 201  # "Withdrawn by <name>"
FOLLOW_UP_ROUNDS = (CLAIMED_ROUND, WITHDRAWN_ROUND)


async def queue_chat_posts(db: AsyncSession, *, account_id: uuid.UUID, handoff_id: uuid.UUID, round: int) -> None:
    """Write the job that posts `round` to the account's chat destinations, when it has an enabled one."""
    if await has_chat_destinations(db, account_id):
        add_chat_job(db, account_id=account_id, handoff_id=handoff_id, round=round)


def add_chat_job(db: AsyncSession, *, account_id: uuid.UUID, handoff_id: uuid.UUID, round: int) -> None:
    """Write the job that posts `round`; its id makes a second one of the same round a no-op."""
    add_job(
        db,
        account_id=account_id,
        name=CHAT_JOB,
        job_id=round_job_id(CHAT_JOB, handoff_id, round),
        payload={"handoff_id": str(handoff_id), "account_id": str(account_id), "round": round},
    )
