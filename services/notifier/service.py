"""The notifier's two jobs: email every eligible senior, and write the note on the PSA ticket.

Both are safe to run again, and to run twice at once: the delivery rows say what was already sent,
and a row is claimed (`sending`, under a lease) before it is attempted. A transient failure puts
its row back to `pending` and asks for the job to be retried; anything else ends the row `failed`
with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.email_message import compose, handoff_link
from services.notifier.mailers import Mailer, SendFailed
from services.notifier.psa.base import PSAConnection, PSAError, PSANote
from services.notifier.psa.registry import adapter_for
from shared.db.models import Delivery, HandoffRow, User
from shared.db.uow import unit_of_work
from shared.deliveries.schemas import Channel, DeliveryState
from shared.deliveries.service import (
    claim_delivery,
    ensure_deliveries,
    pending_deliveries,
    record_outcome,
)
from shared.directory.who import seniors_to_page
from shared.escalations.timers import STALE_CLAIM_ROUND
from shared.handoffs.events import handoff_event
from shared.handoffs.schemas import AssessmentStatus, HandoffStatus, Intent
from shared.integrations.allow_list import allow_list_of
from shared.integrations.crypto import SecretBox
from shared.integrations.outbound import OutboundClients
from shared.integrations.service import load_connection

log = logging.getLogger("handoff.notifier")


def retry_or_fail(transient: bool) -> DeliveryState:
    """A failure that may pass puts the row back to pending; any other ends it failed."""
    return DeliveryState.PENDING if transient else DeliveryState.FAILED


class RetryLater(Exception):
    """Some deliveries failed for a reason that may pass; the job should run again later."""


# What one row's send came to: done (any final state), try again later, or another run holds it.
DONE, RETRY, NOT_OURS = "done", "retry", "not ours"


class NotifyHandoff:
    """The `notify` job: one email per eligible senior, at most once each.

    Each row is claimed (`pending` -> `sending`, with a lease of `lease_s`) before its email goes out,
    so two runs of the job at once send each email once.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        mailer: Mailer,
        *,
        public_url: str,
        sender: str,
        concurrency: int = 8,
        assessment_wait_s: float = 8.0,
        lease_s: float = 120.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.mailer = mailer
        self.public_url = public_url
        self.sender = sender
        self.concurrency = concurrency
        self.assessment_wait_s = assessment_wait_s
        self.lease_s = lease_s

    async def __call__(self, payload: dict[str, Any]) -> str:
        handoff_id = uuid.UUID(str(payload["handoff_id"]))
        round = int(payload.get("round") or 0)
        if round:
            return await self._later_round(handoff_id, round)
        handoff = await self._handoff_with_assessment(handoff_id)
        if handoff is None or handoff.intent != Intent.ESCALATE:
            return "nothing to do"
        async with unit_of_work(self.sessionmaker) as db:
            seniors = await seniors_to_page(db, handoff.account_id, handoff.created_by_id)
            await ensure_deliveries(
                db,
                handoff_id=handoff.id,
                account_id=handoff.account_id,
                channel="email",
                recipients=[(user.email, user.id) for user in seniors],
            )
        async with self.sessionmaker() as db:
            rows = await pending_deliveries(db, handoff.id, "email")
        return await self._deliver_all(handoff, rows, {user.id: user for user in seniors})

    async def _later_round(self, handoff_id: uuid.UUID, round: int) -> str:
        """A reminder or stale-claim round: its rows were written when its timer fired."""
        async with self.sessionmaker() as db:
            handoff = await db.get(HandoffRow, handoff_id)
            if handoff is None:
                return "nothing to do"
            rows = await pending_deliveries(db, handoff.id, Channel.EMAIL, round)
            ids = {row.user_id for row in rows if row.user_id is not None}
            seniors = await seniors_to_page(db, handoff.account_id, handoff.created_by_id)
        return await self._deliver_all(handoff, rows, {user.id: user for user in seniors if user.id in ids})

    async def _deliver_all(self, handoff: HandoffRow, rows: Sequence[Delivery], users: dict[uuid.UUID, User]) -> str:
        gate = asyncio.Semaphore(self.concurrency)

        async def deliver(row: Delivery) -> str:
            async with gate:
                return await self._deliver(handoff, row, users.get(row.user_id) if row.user_id else None)

        outcomes = await asyncio.gather(*(deliver(row) for row in rows))
        retry = outcomes.count(RETRY)
        if retry:
            raise RetryLater(f"{retry} of {len(rows)} emails for handoff {handoff.id} will be retried")
        return f"{outcomes.count(DONE)} emails handled"

    async def _handoff_with_assessment(self, handoff_id: uuid.UUID) -> HandoffRow | None:
        """The handoff, waiting briefly for its assessment so the email can carry the summary."""
        deadline = time.monotonic() + self.assessment_wait_s
        while True:
            async with self.sessionmaker() as db:
                handoff = await db.get(HandoffRow, handoff_id)
            if handoff is None or handoff.assessment_status != AssessmentStatus.PENDING or time.monotonic() >= deadline:
                return handoff
            await asyncio.sleep(0.25)

    async def _deliver(self, handoff: HandoffRow, row: Delivery, user: User | None) -> str:
        """Claim one row, send its email and record how it went: each step its own unit of work."""
        async with unit_of_work(self.sessionmaker) as db:
            if not await claim_delivery(db, row.id, lease_s=self.lease_s):
                return NOT_OURS
        async with unit_of_work(self.sessionmaker) as db:
            current = await db.get(HandoffRow, handoff.id)
            if user is None:
                await record_outcome(
                    db, row.id, DeliveryState.SKIPPED, error="no longer an active senior", attempted=False
                )
                return DONE
            if current is not None and current.status == HandoffStatus.WITHDRAWN:
                await record_outcome(
                    db, row.id, DeliveryState.SKIPPED, error="withdrawn before the email went out", attempted=False
                )
                return DONE
            outdated = round_outdated(current, row.round, user) if current is not None else ""
            if outdated:
                await record_outcome(db, row.id, DeliveryState.SKIPPED, error=outdated, attempted=False)
                return DONE
            try:
                message = compose(handoff, user, public_url=self.public_url, sender=self.sender, round=row.round)
            except Exception as exc:  # noqa: BLE001 - whatever stops it, the same message would fail again
                log.warning("email to %s for %s cannot be written: %s", row.recipient, handoff.id, exc)
                await record_outcome(db, row.id, DeliveryState.FAILED, error=f"the email could not be written: {exc}")
                return DONE
        try:
            await self.mailer.send(message)
        except SendFailed as exc:
            log.warning("email to %s for %s failed: %s", row.recipient, handoff.id, exc)
            async with unit_of_work(self.sessionmaker) as db:
                await record_outcome(db, row.id, retry_or_fail(exc.transient), error=str(exc))
            return RETRY if exc.transient else DONE
        except Exception as exc:
            # Not a verdict the mailer knows: end the row with its reason rather than cycle it through retries.
            log.exception("email to %s for %s could not be sent", row.recipient, handoff.id)
            async with unit_of_work(self.sessionmaker) as db:
                await record_outcome(
                    db, row.id, DeliveryState.FAILED, error=f"the email could not be sent ({type(exc).__name__})"
                )
            return DONE
        async with unit_of_work(self.sessionmaker) as db:
            await record_outcome(db, row.id, DeliveryState.SENT)
        return DONE


def round_outdated(handoff: HandoffRow, round: int, user: User) -> str:
    """Why a reminder or stale-claim email no longer applies ("" when it does)."""
    if round == STALE_CLAIM_ROUND:
        if handoff.status != HandoffStatus.CLAIMED or handoff.claimed_by_id != user.id:
            return "no longer claimed by this senior"
    elif round and handoff.status != HandoffStatus.OPEN:
        return f"{handoff.status} before the reminder went out"
    return ""


class PushToPSA:
    """The `psa_push` job: an internal note on the session's PSA ticket (or a signed webhook), once."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        box: SecretBox,
        outbound: OutboundClients,
        *,
        public_url: str,
        lease_s: float = 120.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.box = box
        self.outbound = outbound
        self.public_url = public_url
        self.lease_s = lease_s

    async def __call__(self, payload: dict[str, Any]) -> str:
        handoff_id = uuid.UUID(str(payload["handoff_id"]))
        async with unit_of_work(self.sessionmaker) as db:
            handoff = await db.get(HandoffRow, handoff_id)
            if handoff is None or handoff.intent != Intent.ESCALATE:
                return "nothing to do"
            found = await load_connection(db, self.box, handoff.account_id)
            ticket_ref = handoff.snapshot.get("ticket_ref") or ""
            if found is None:
                return await self._skip(db, handoff, "psa", "psa", "no PSA connection is set up for the account")
            connection_row, credentials = found
            allow = await allow_list_of(db, handoff.account_id)  # the dial-time check must know the account
            provider = connection_row.provider
            channel = "webhook" if provider == "webhook" else "psa"
            # The target's host only: never the userinfo, path or query a URL may carry (API.md, deliveries).
            recipient = urlsplit(connection_row.base_url).hostname or provider
            if channel == "psa" and not ticket_ref:
                return await self._skip(db, handoff, channel, recipient, "the session has no ticket_ref")
            await ensure_deliveries(
                db,
                handoff_id=handoff.id,
                account_id=handoff.account_id,
                channel=channel,
                recipients=[(recipient, None)],
            )
        async with self.sessionmaker() as db:
            rows = await pending_deliveries(db, handoff.id, channel)
        connection = PSAConnection(provider=provider, base_url=connection_row.base_url, credentials=credentials)
        note = PSANote(
            ticket_ref=ticket_ref,
            text=self._note_text(handoff),
            idempotency_key=f"handoff:{handoff.id}",
            payload=self._webhook_payload(handoff),
        )
        for row in rows:
            async with unit_of_work(self.sessionmaker) as db:
                if not await claim_delivery(db, row.id, lease_s=self.lease_s):
                    continue  # another run is pushing it
            async with unit_of_work(self.sessionmaker) as db:
                current = await db.get(HandoffRow, handoff.id)
                if current is not None and current.status == HandoffStatus.WITHDRAWN:
                    await record_outcome(
                        db, row.id, DeliveryState.SKIPPED, error="withdrawn before the note went out", attempted=False
                    )
                    return "skipped"
            try:
                async with self.outbound.for_account(allow.hosts, allow.cidrs) as http:
                    result = await adapter_for(provider).post_note(http, connection, note)
            except PSAError as exc:
                log.warning("%s push for %s failed: %s", provider, handoff.id, exc)
                async with unit_of_work(self.sessionmaker) as db:
                    await record_outcome(db, row.id, retry_or_fail(exc.transient), error=str(exc))
                if exc.transient:
                    raise RetryLater(str(exc)) from exc
                return "failed"
            except Exception as exc:
                # Not the adapter's verdict: give the row back at once rather than after its lease.
                async with unit_of_work(self.sessionmaker) as db:
                    await record_outcome(db, row.id, DeliveryState.PENDING, error=f"{type(exc).__name__}: {exc}")
                raise
            async with unit_of_work(self.sessionmaker) as db:
                await record_outcome(db, row.id, DeliveryState.SENT, external_id=result.external_id)
        return "pushed"

    async def _skip(self, db: AsyncSession, handoff: HandoffRow, channel: str, recipient: str, reason: str) -> str:
        """Record why nothing could be pushed; the caller's unit of work commits it."""
        await ensure_deliveries(
            db, handoff_id=handoff.id, account_id=handoff.account_id, channel=channel, recipients=[(recipient, None)]
        )
        for row in await pending_deliveries(db, handoff.id, channel):
            await record_outcome(db, row.id, DeliveryState.SKIPPED, error=reason, attempted=False)
        return "skipped"

    def _note_text(self, handoff: HandoffRow) -> str:
        lines = [
            f"Escalated to the senior team by {handoff.created_by_name} ({handoff.urgency} urgency).",
            f"Note: {handoff.note}" if handoff.note else "",
            f"Handoff: {handoff_link(self.public_url, str(handoff.id))}",
        ]
        return "\n".join(line for line in lines if line)

    def _webhook_payload(self, handoff: HandoffRow) -> dict[str, Any]:
        """The webhook body: the same event the stream carries, with a link to the handoff."""
        event = handoff_event("handoff_created", handoff, link=handoff_link(self.public_url, str(handoff.id)))
        return dict(msgspec.to_builtins(event))
