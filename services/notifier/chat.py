"""The `chat_post` job: one post per chat destination and round, at each destination's pace.

Round 0 is written for the destinations enabled when the escalation was made, and goes out at once (the
assessment's summary rides along if it is ready, nothing waits for it). Later rounds (reminders, the follow-ups of
a claim or withdrawal) go only where the first post was meant to go, and only after it: while a destination's first
post is still pending its later ones wait, and if it was never sent they are `skipped`.

Safe to run again and twice at once, like every notifier job: a row is claimed before it is sent.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.channels.chat import CHAT_CHANNELS, notice_about
from services.notifier.email_message import handoff_link
from services.notifier.service import RetryLater, skip
from shared.channels import CHAT_CHANNELS as CHAT_CHANNEL_NAMES
from shared.chat.jobs import CLAIMED_ROUND, FOLLOW_UP_ROUNDS, WITHDRAWN_ROUND
from shared.chat.message import ChatNotice
from shared.chat.post import PostOutcome, post
from shared.chat.service import UNOPENED, Destination, chat_destinations
from shared.crypto import SecretBox
from shared.db.uow import unit_of_work
from shared.deliveries.schemas import DeliveryState
from shared.deliveries.service import (
    UNFINISHED,
    claim_delivery,
    ensure_chat_round,
    ensure_deliveries,
    pending_deliveries,
    record_outcome,
)
from shared.deliveries.tables import Delivery
from shared.handoffs.schemas import HandoffStatus, Intent
from shared.handoffs.tables import HandoffRow
from shared.integrations.allow_list import allow_list_of
from shared.outbound.guard import OutboundClients
from shared.pace import Pace

log = logging.getLogger("handoff.notifier.chat")
# A later post waiting for its destination's first one looks again this soon.
WAIT_FOR_FIRST_S = 3.0
# The longest a post waits for its destination's next slot inside a job; beyond it the job is tried again later.
MAX_PACE_WAIT_S = 30.0

Key = tuple[str, str]  # (channel, recipient) = (the destination's kind, its label)


class PostToChat:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        box: SecretBox,
        outbound: OutboundClients,
        pace: Pace,
        *,
        public_url: str,
        lease_s: float = 120.0,
        max_pace_wait_s: float = MAX_PACE_WAIT_S,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.box = box
        self.outbound = outbound
        self.pace = pace
        self.public_url = public_url
        self.lease_s = lease_s
        self.max_pace_wait_s = max_pace_wait_s

    async def __call__(self, payload: dict[str, Any]) -> str:
        handoff_id = uuid.UUID(str(payload["handoff_id"]))
        round = int(payload.get("round") or 0)
        async with unit_of_work(self.sessionmaker) as db:  # plan the rows and claim them: one commit
            handoff = await db.get(HandoffRow, handoff_id)
            if handoff is None or handoff.intent != Intent.ESCALATE:
                return "nothing to do"
            destinations: dict[Key, Destination] = {
                (d.kind, d.label): d for d in await chat_destinations(db, self.box, handoff.account_id)
            }
            await self._plan(db, handoff, round, destinations)
            firsts = await _first_posts(db, handoff.id) if round else {}
            outgoing: list[tuple[Delivery, Destination]] = []
            waiting = 0
            for row in await _pending(db, handoff.id, round):
                key = (row.channel, row.recipient)
                if round and firsts.get(key) in UNFINISHED:
                    waiting += 1  # never before the destination's first post
                    continue
                if not await claim_delivery(db, row.id, lease_s=self.lease_s):
                    continue  # another run holds it
                reason = _why_not(handoff, round, destinations.get(key), firsts.get(key))
                if reason:
                    await skip(db, row, reason)
                elif not destinations[key].url:
                    await record_outcome(db, row.id, DeliveryState.FAILED, error=f"{row.channel}: {UNOPENED}")
                else:
                    outgoing.append((row, destinations[key]))
            notice = notice_about(handoff, round, handoff_link(self.public_url, str(handoff.id)))
            allow = await allow_list_of(db, handoff.account_id)  # the dial-time check must know the account
        outcomes: list[PostOutcome] = []
        if outgoing:
            async with self.outbound.for_account(allow.hosts, allow.cidrs) as http:
                outcomes = await asyncio.gather(
                    *(self._deliver(http, handoff.id, row, destination, notice) for row, destination in outgoing)
                )
        again = [outcome for outcome in outcomes if not outcome.sent and outcome.transient]
        if again or waiting:
            asked = [o.retry_after_s for o in again if o.retry_after_s is not None]
            delay = max(asked) if asked else (None if again else WAIT_FOR_FIRST_S)
            raise RetryLater(
                f"{len(again)} chat posts of round {round} for handoff {handoff.id} will be retried, "
                f"{waiting} wait for their first post",
                delay_s=delay,
            )
        return f"{len(outgoing)} chat posts handled"

    async def _plan(
        self, db: AsyncSession, handoff: HandoffRow, round: int, destinations: dict[Key, Destination]
    ) -> None:
        """Write the round's rows: round 0's for the destinations enabled when the escalation was made, a
        follow-up's for every destination of round 0 (a reminder's were written when its timer fired)."""
        if round == 0:
            for channel in CHAT_CHANNEL_NAMES:
                recipients = [
                    (d.label, None)
                    for d in destinations.values()
                    if d.kind == channel and d.posts_about(handoff.created_at)
                ]
                await ensure_deliveries(
                    db, handoff_id=handoff.id, account_id=handoff.account_id, channel=channel, recipients=recipients
                )
        elif round in FOLLOW_UP_ROUNDS:
            await ensure_chat_round(db, handoff_id=handoff.id, account_id=handoff.account_id, round=round)

    async def _deliver(
        self,
        http: httpx.AsyncClient,
        handoff_id: uuid.UUID,
        row: Delivery,
        destination: Destination,
        notice: ChatNotice,
    ) -> PostOutcome:
        """Post one claimed row and record how it went, in its own unit of work."""
        channel = CHAT_CHANNELS[destination.kind]
        try:
            body = channel.body(notice)
            outcome = await post(
                http, self.pace, channel.vendor, destination.url, body, max_wait_s=self.max_pace_wait_s
            )
        except Exception as exc:
            # Not a verdict on the post: give the row back at once rather than after its lease.
            async with unit_of_work(self.sessionmaker) as db:
                await record_outcome(db, row.id, DeliveryState.PENDING, error=f"{type(exc).__name__}: {exc}")
            raise
        if outcome.sent:
            state = DeliveryState.SENT
            log.info("%s post %d for %s sent to %r", destination.kind, row.round, handoff_id, destination.label)
        else:
            state = DeliveryState.PENDING if outcome.transient else DeliveryState.FAILED
            log.warning(
                "%s post %d for %s to %r: %s",
                destination.kind,
                row.round,
                handoff_id,
                destination.label,
                outcome.detail,
            )
        async with unit_of_work(self.sessionmaker) as db:
            await record_outcome(
                db,
                row.id,
                state,
                error=None if outcome.sent else outcome.detail,
                attempted=outcome.attempted,
            )
        return outcome


async def _pending(db: AsyncSession, handoff_id: uuid.UUID, round: int) -> list[Delivery]:
    return [row for channel in CHAT_CHANNEL_NAMES for row in await pending_deliveries(db, handoff_id, channel, round)]


async def _first_posts(db: AsyncSession, handoff_id: uuid.UUID) -> dict[Key, DeliveryState]:
    """How each destination's first post (round 0) stands."""
    query = select(Delivery.channel, Delivery.recipient, Delivery.status).where(
        Delivery.handoff_id == handoff_id, Delivery.channel.in_(CHAT_CHANNEL_NAMES), Delivery.round == 0
    )
    return {(channel, recipient): DeliveryState(status) for channel, recipient, status in await db.execute(query)}


def _why_not(handoff: HandoffRow, round: int, destination: Destination | None, first: DeliveryState | None) -> str:
    """Why a claimed row is not to be posted ("" when it is)."""
    if destination is None:
        return "the destination was removed"
    if not destination.enabled:
        return "the destination is disabled"
    if round and first != DeliveryState.SENT:
        return "the escalation's first post was not sent"
    if round == CLAIMED_ROUND:
        return "" if handoff.status == HandoffStatus.CLAIMED else "the escalation is not claimed"
    if round == WITHDRAWN_ROUND:
        return "" if handoff.status == HandoffStatus.WITHDRAWN else "the escalation is not withdrawn"
    if handoff.status != HandoffStatus.OPEN:
        return f"{handoff.status} before the post went out"
    return ""
