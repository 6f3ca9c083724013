"""The notifier's jobs: `notify` pages the seniors by email, `psa_push` feeds the account's connection channel.

Both are safe to run again, and to run twice at once: the delivery rows say what was already sent, and a
row is claimed (`sending`, under a lease) in the same unit of work that plans it, before it is attempted.
A transient failure puts its row back to `pending` and asks for the job to be retried; anything else ends
the row `failed` with the reason. A job commits twice per row at most: the claim, then the outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.channels.base import ChannelError, Connection, Notice
from services.notifier.channels.email import EmailChannel
from services.notifier.channels.registry import connection_channel
from services.notifier.email_message import handoff_link
from services.notifier.mailers import Mailer
from shared.channels import EMAIL, PSA
from shared.crypto import SecretBox
from shared.db.uow import unit_of_work
from shared.deliveries.events import written_event
from shared.deliveries.schemas import DeliveryState
from shared.deliveries.service import (
    claim_delivery,
    ensure_deliveries,
    pending_deliveries,
    record_outcome,
)
from shared.deliveries.tables import Delivery
from shared.directory.tables import User
from shared.directory.who import seniors_to_page
from shared.handoffs.schemas import AssessmentStatus, HandoffStatus, Intent
from shared.handoffs.tables import HandoffRow
from shared.integrations.allow_list import allow_list_of
from shared.integrations.service import load_connection
from shared.jobs.base import RetryAfter
from shared.outbound.guard import OutboundClients
from shared.pickup.links import PickUpLinks
from shared.policy.service import policy_of
from shared.policy.timers import STALE_CLAIM_ROUND

log = logging.getLogger("handoff.notifier")


def retry_or_fail(transient: bool) -> DeliveryState:
    """A failure that may pass puts the row back to pending; any other ends it failed."""
    return DeliveryState.PENDING if transient else DeliveryState.FAILED


class RetryLater(RetryAfter):
    """Some deliveries failed for a reason that may pass; the job should run again later (after `delay_s` when the
    far end said when)."""


# What one row's send came to: done (any final state) or try again later.
DONE, RETRY = "done", "retry"


async def claim(db: AsyncSession, rows: Sequence[Delivery], lease_s: float) -> list[Delivery]:
    """The rows this run now holds, as they were before it took them; a row another run holds is left to it."""
    return [row for row in rows if await claim_delivery(db, row.id, lease_s=lease_s)]


def tried_before(row: Delivery) -> bool:
    """Whether an earlier try may have reached the recipient: one recorded, or one whose worker died mid-send
    (the row was still `sending` when this run took it over)."""
    return bool(row.attempts) or row.status == DeliveryState.SENDING


async def skip(db: AsyncSession, row: Delivery, reason: str) -> None:
    await record_outcome(db, row.id, DeliveryState.SKIPPED, error=reason, attempted=False)


class NotifyHandoff:
    """The `notify` job: one email per eligible senior, at most once each."""

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
        links: PickUpLinks | None = None,
    ) -> None:
        """`links` makes each senior's pick-up link for the emails that page or remind them (none without it)."""
        self.sessionmaker = sessionmaker
        self.channel = EmailChannel(mailer, public_url=public_url, sender=sender)
        self.links = links
        self.concurrency = concurrency
        self.assessment_wait_s = assessment_wait_s
        self.lease_s = lease_s

    async def __call__(self, payload: dict[str, Any]) -> str:
        handoff_id = uuid.UUID(str(payload["handoff_id"]))
        round = int(payload.get("round") or 0)
        if not round and not await self._assessed(handoff_id):
            return "nothing to do"
        async with unit_of_work(self.sessionmaker) as db:  # plan the rows and claim them: one commit
            handoff = await db.get(HandoffRow, handoff_id)
            if handoff is None or (not round and handoff.intent != Intent.ESCALATE):
                return "nothing to do"
            if not round:  # a later round's rows were written when its timer fired
                plan = await self.channel.plan(db, handoff)
                recipients = [(r.address, r.user_id) for r in plan.recipients]
                await ensure_deliveries(
                    db, handoff_id=handoff.id, account_id=handoff.account_id, channel=EMAIL.name, recipients=recipients
                )
            rows = await claim(db, await pending_deliveries(db, handoff.id, EMAIL.name, round), self.lease_s)
            seniors = {user.id: user for user in await seniors_to_page(db, handoff.account_id, handoff.created_by_id)}
            links = self.links if rows and (await policy_of(db, handoff.account_id)).pick_up_links() else None
            outgoing = [
                (row, message)
                for row in rows
                if (message := await self._message(db, handoff, row, seniors, links)) is not None
            ]
        gate = asyncio.Semaphore(self.concurrency)

        async def deliver(row: Delivery, message: EmailMessage) -> str:
            async with gate:
                return await self._send(handoff, row, message)

        outcomes = await asyncio.gather(*(deliver(row, message) for row, message in outgoing))
        retry = outcomes.count(RETRY)
        if retry:
            raise RetryLater(f"{retry} of {len(rows)} emails for handoff {handoff.id} will be retried")
        return f"{len(rows)} emails handled"

    async def _assessed(self, handoff_id: uuid.UUID) -> bool:
        """Wait briefly for the handoff's assessment, so the email can carry the summary; False without a handoff."""
        deadline = time.monotonic() + self.assessment_wait_s
        while True:
            async with unit_of_work(self.sessionmaker) as db:
                handoff = await db.get(HandoffRow, handoff_id)
                status = None if handoff is None else handoff.assessment_status
            if status != AssessmentStatus.PENDING or time.monotonic() >= deadline:
                return status is not None
            await asyncio.sleep(0.25)

    async def _message(
        self,
        db: AsyncSession,
        handoff: HandoffRow,
        row: Delivery,
        seniors: dict[uuid.UUID, User],
        links: PickUpLinks | None,
    ) -> EmailMessage | None:
        """The claimed row's email, or None once the row is settled (skipped, or failed for good) in `db`.

        An email that pages or reminds carries the senior's pick-up link (made with the first one, in this unit
        of work) while `links` is given and the link has not expired; the stale-claim nudge never does.
        """
        user = seniors.get(row.user_id) if row.user_id else None
        if user is None:
            await skip(db, row, "no longer an active senior")
            return None
        closed = "withdrawn before the email went out" if handoff.status == HandoffStatus.WITHDRAWN else ""
        closed = closed or round_outdated(handoff, row.round, user)
        if closed:
            # Not sent again: an email about an escalation withdrawn, or one someone else holds now, helps nobody.
            # An earlier try, whose worker died or whose answer was lost, may have sent it all the same.
            await skip(db, row, f"{closed} (an earlier try may have sent it)" if tried_before(row) else closed)
            return None
        token = None
        if links is not None and row.round != STALE_CLAIM_ROUND:
            token = await links.token_for(db, handoff_id=handoff.id, account_id=handoff.account_id, user_id=user.id)
        try:
            return self.channel.message(handoff, user, row.round, token)
        except Exception as exc:  # noqa: BLE001 - whatever stops it, the same message would fail again
            log.warning("email to %s for %s cannot be written: %s", row.recipient, handoff.id, exc)
            await record_outcome(db, row.id, DeliveryState.FAILED, error=f"the email could not be written: {exc}")
            return None

    async def _send(self, handoff: HandoffRow, row: Delivery, message: EmailMessage) -> str:
        """Send one claimed row's email and record how it went, in its own unit of work."""
        try:
            await self.channel.send(message)
        except ChannelError as exc:
            log.warning("email to %s for %s failed: %s", row.recipient, handoff.id, exc)
            async with unit_of_work(self.sessionmaker) as db:
                await record_outcome(db, row.id, retry_or_fail(exc.transient), error=str(exc))
            return RETRY if exc.transient else DONE
        except Exception as exc:
            # Not a verdict the mailer knows: end the row with its reason rather than cycle it through retries.
            log.exception("email to %s for %s could not be sent", row.recipient, handoff.id)
            async with unit_of_work(self.sessionmaker) as db:
                error = f"the email could not be sent ({type(exc).__name__})"
                await record_outcome(db, row.id, DeliveryState.FAILED, error=error)
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
    """The `psa_push` job: once, what the account's connection asks for (a PSA ticket note, or a signed webhook)."""

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
        async with unit_of_work(self.sessionmaker) as db:  # plan the row and claim it: one commit
            handoff = await db.get(HandoffRow, handoff_id)
            if handoff is None or handoff.intent != Intent.ESCALATE:
                return "nothing to do"
            found = await load_connection(db, self.box, handoff.account_id)
            if found is None:
                return await self._skip(db, handoff, PSA.name, "psa", "no PSA connection is set up for the account")
            connection_row, credentials = found
            connection = Connection(
                provider=connection_row.provider, base_url=connection_row.base_url, credentials=credentials
            )
            channel = connection_channel(connection.provider)
            # The target's host only: never the userinfo, path or query a URL may carry (API.md, deliveries).
            recipient = urlsplit(connection.base_url).hostname or connection.provider
            plan = channel.plan(handoff, connection, recipient)
            if plan.skip:
                return await self._skip(db, handoff, channel.name, recipient, plan.skip)
            recipients = [(r.address, r.user_id) for r in plan.recipients]
            await ensure_deliveries(
                db, handoff_id=handoff.id, account_id=handoff.account_id, channel=channel.name, recipients=recipients
            )
            rows = await claim(db, await pending_deliveries(db, handoff.id, channel.name), self.lease_s)
            if handoff.status == HandoffStatus.WITHDRAWN:
                # A row tried before may have reached the target already (the answer was lost on the way back):
                # it is finished, as a retry finds the marker or the receiver dedupes the key, so that its row
                # says what the target holds. A row never tried is not begun.
                for row in rows:
                    if not tried_before(row):
                        await skip(db, row, "withdrawn before the note went out")
                rows = [row for row in rows if tried_before(row)]
                if not rows:
                    return "skipped"
            allow = await allow_list_of(db, handoff.account_id)  # the dial-time check must know the account
            notice = await self._notice(db, handoff) if rows else None
            if rows and notice is None:
                for row in rows:
                    await record_outcome(db, row.id, DeliveryState.FAILED, error="the event is no longer kept")
                return "failed"
        for row in rows:
            assert notice is not None
            try:
                async with self.outbound.for_account(allow.hosts, allow.cidrs) as http:
                    result = await channel.send(http, connection, notice)
            except ChannelError as exc:
                log.warning("%s push for %s failed: %s", connection.provider, handoff.id, exc)
                async with unit_of_work(self.sessionmaker) as db:
                    await record_outcome(db, row.id, retry_or_fail(exc.transient), error=str(exc))
                if exc.transient:
                    raise RetryLater(str(exc)) from exc
                return "failed"
            except Exception as exc:
                # Not the channel's verdict: give the row back at once rather than after its lease.
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
            await skip(db, row, reason)
        return "skipped"

    async def _notice(self, db: AsyncSession, handoff: HandoffRow) -> Notice | None:
        """What the connection gets: the note, and the event that was written with `link` added."""
        event = await written_event(db, handoff, "handoff_created")
        if event is None:
            return None
        link = handoff_link(self.public_url, str(handoff.id))
        lines = [
            f"Escalated to the senior team by {handoff.created_by_name} ({handoff.urgency} urgency).",
            f"Note: {handoff.note}" if handoff.note else "",
            f"Handoff: {link}",
        ]
        return Notice(
            ticket_ref=handoff.snapshot.get("ticket_ref") or "",
            text="\n".join(line for line in lines if line),
            idempotency_key=f"handoff:{handoff.id}",
            event={**event, "link": link},
        )
