"""Delivery rows: one per handoff, recipient and channel, so a retried job never notifies twice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.channels import CHAT_CHANNELS, channel_jobs, channels_sent_by, job_sending, round_job_id
from shared.chat.jobs import CHAT_JOB, CLAIMED_ROUND, WITHDRAWN_ROUND
from shared.chat.service import destination_posting_about
from shared.clock import rfc3339, utcnow
from shared.db.upsert import insert_missing
from shared.deliveries.schemas import DeliveryOut, DeliveryState, DeliveryStatus
from shared.deliveries.tables import Delivery
from shared.directory.who import pageable, require_senior
from shared.handoffs.schemas import HandoffStatus, Intent
from shared.handoffs.service import load_handoff
from shared.handoffs.tables import HandoffRow
from shared.observability.metrics import DELIVERIES

MAX_ERROR_CHARS = 500
UNFINISHED = (DeliveryState.PENDING, DeliveryState.SENDING)
# What a client sees of each stored state: a row being sent is still pending to them.
SHOWN: dict[DeliveryState, DeliveryStatus] = {
    DeliveryState.PENDING: "pending",
    DeliveryState.SENDING: "pending",
    DeliveryState.SENT: "sent",
    DeliveryState.FAILED: "failed",
    DeliveryState.SKIPPED: "skipped",
}


def _out(row: Delivery) -> DeliveryOut:
    return DeliveryOut(
        channel=row.channel,
        recipient=row.recipient,
        round=row.round,
        status=SHOWN[row.status],
        attempts=row.attempts,
        last_error=row.last_error,
        sent_at=rfc3339(row.sent_at) if row.sent_at else None,
        step=row.step,
    )


async def list_deliveries(db: AsyncSession, principal: Principal, handoff_id: uuid.UUID) -> list[DeliveryOut]:
    """Who was told about a handoff, how, and how it went."""
    require_senior(principal)
    handoff = await load_handoff(db, principal, handoff_id)
    query = (
        select(Delivery)
        .where(Delivery.handoff_id == handoff.id)
        .order_by(Delivery.round, Delivery.channel, Delivery.recipient)
    )
    return [_out(row) for row in (await db.execute(query)).scalars().all()]


async def ensure_deliveries(
    db: AsyncSession,
    *,
    handoff_id: uuid.UUID,
    account_id: uuid.UUID,
    channel: str,
    recipients: Sequence[tuple[str, uuid.UUID | None]],
    round: int = 0,
    step: int | None = None,
) -> None:
    """Create the missing rows of `round`; existing ones (from an earlier run) are left as they are.

    `step` is the escalation step that paged these recipients, on their emails of round 0.
    """
    if not recipients:
        return
    now = utcnow()
    values: list[dict[str, Any]] = [
        {
            "handoff_id": handoff_id,
            "account_id": account_id,
            "channel": channel,
            "recipient": recipient,
            "round": round,
            "user_id": user_id,
            "step": step,
            "status": DeliveryState.PENDING,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for recipient, user_id in recipients
    ]
    await insert_missing(db, Delivery, values)


async def ensure_chat_round(db: AsyncSession, *, handoff_id: uuid.UUID, account_id: uuid.UUID, round: int) -> int:
    """Rows of `round` for every chat destination that has a row of the escalation's own post (round 0); how many.

    A later post goes only where the first one was meant to go; whether it can still be sent is decided when it
    is sent (a removed or disabled destination, or a first post that never went out, makes it `skipped`).
    """
    query = select(Delivery.channel, Delivery.recipient).where(
        Delivery.handoff_id == handoff_id, Delivery.channel.in_(CHAT_CHANNELS), Delivery.round == 0
    )
    firsts = (await db.execute(query)).all()
    for channel in CHAT_CHANNELS:
        recipients = [(recipient, None) for kind, recipient in firsts if kind == channel]
        await ensure_deliveries(
            db, handoff_id=handoff_id, account_id=account_id, channel=channel, recipients=recipients, round=round
        )
    return len(firsts)


async def pending_deliveries(
    db: AsyncSession, handoff_id: uuid.UUID, channel: str, round: int = 0
) -> Sequence[Delivery]:
    """The rows of a round still to be sent: `pending`, or `sending` under a lease that may have run out."""
    query = select(Delivery).where(
        Delivery.handoff_id == handoff_id,
        Delivery.channel == channel,
        Delivery.round == round,
        Delivery.status.in_(UNFINISHED),
    )
    return (await db.execute(query.order_by(Delivery.id))).scalars().all()


async def claim_delivery(db: AsyncSession, delivery_id: int, *, lease_s: float) -> bool:
    """Take a row for sending: `pending`, or `sending` under a lease that ran out. False when someone else has it.

    The caller commits before sending, so an overlapping run sees the claim; a worker that dies mid-send
    loses the row to whoever comes after its lease. Its try counts in `attempts` all the same: it may have
    reached the recipient, and nobody recorded how it went.
    """
    now = utcnow()
    taken_over = Delivery.status == DeliveryState.SENDING
    result = await db.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            or_(Delivery.status == DeliveryState.PENDING, and_(taken_over, Delivery.lease_until < now)),
        )
        .values(
            status=DeliveryState.SENDING,
            lease_until=now + timedelta(seconds=lease_s),
            updated_at=now,
            attempts=case((taken_over, Delivery.attempts + 1), else_=Delivery.attempts),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def record_outcome(
    db: AsyncSession,
    delivery_id: int,
    status: DeliveryState,
    *,
    error: str | None = None,
    external_id: str | None = None,
    attempted: bool = True,
) -> None:
    """One attempt's outcome: `sent`, `failed` (for good), `skipped`, or `pending` again (will retry)."""
    values: dict[str, Any] = {"status": status, "updated_at": utcnow(), "lease_until": None}
    if attempted:
        values["attempts"] = Delivery.attempts + 1
    if error is not None:
        values["last_error"] = error[:MAX_ERROR_CHARS]
    if status == DeliveryState.SENT:
        values["sent_at"] = utcnow()
        values["last_error"] = None
    if external_id is not None:
        values["external_id"] = external_id
    channel = await db.scalar(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status.in_(UNFINISHED))
        .values(**values)
        .returning(Delivery.channel)
        .execution_options(synchronize_session=False)
    )
    if channel is not None:
        DELIVERIES.labels(channel, "retry" if status == DeliveryState.PENDING else str(status)).inc()


async def handoffs_with_unfinished_deliveries(
    db: AsyncSession, *, idle_s: float
) -> Sequence[tuple[uuid.UUID, str, int]]:
    """(handoff, job, round) with a row nobody is working on: `pending`, or `sending` past its lease.

    `job` is the one that sends the row's channel. `idle_s` leaves alone rows touched very recently, which a
    running job is about to claim.
    """
    now = utcnow()
    query = (
        select(Delivery.handoff_id, Delivery.channel, Delivery.round)
        .where(
            or_(
                and_(Delivery.status == DeliveryState.PENDING, Delivery.updated_at < now - timedelta(seconds=idle_s)),
                and_(Delivery.status == DeliveryState.SENDING, Delivery.lease_until < now),
            )
        )
        .distinct()
        .limit(500)
    )
    return [(row[0], job_sending(row[1]), row[2]) for row in (await db.execute(query)).all()]


async def escalations_never_notified(
    db: AsyncSession, *, older_than_s: float, within_s: float
) -> Sequence[tuple[uuid.UUID, str]]:
    """(handoff, job) pairs whose channel job never wrote its rows (a `notify` only when there are seniors to tell).

    Only escalations created between `within_s` and `older_than_s` ago are looked at, so a job still
    queued is not doubled and the search stays short.
    """
    now = utcnow()
    window = and_(
        HandoffRow.intent == Intent.ESCALATE,
        HandoffRow.created_at < now - timedelta(seconds=older_than_s),
        HandoffRow.created_at > now - timedelta(seconds=within_s),
    )
    jobs = {job: channels_sent_by(job) for job in channel_jobs()}
    has_rows = {
        job: exists().where(Delivery.handoff_id == HandoffRow.id, Delivery.channel.in_([c.name for c in channels]))
        for job, channels in jobs.items()
    }
    has_seniors = exists().where(pageable(HandoffRow.account_id, HandoffRow.created_by_id))
    has_destinations = destination_posting_about(HandoffRow.account_id, HandoffRow.created_at)
    found: list[tuple[uuid.UUID, str]] = []
    for job, channels in jobs.items():
        # A channel with a row per senior (per chat destination) writes none when there is no senior to tell (no
        # destination that was enabled when the escalation was made): that is not a lost job.
        wanted = [has_seniors] if any(c.per_senior for c in channels) else []
        wanted += [has_destinations] if any(c.per_destination for c in channels) else []
        query = select(HandoffRow.id).where(window, ~has_rows[job], *wanted).limit(500)
        found += [(h, job) for h in (await db.execute(query)).scalars().all()]
    return found


async def chat_follow_ups_never_written(
    db: AsyncSession, *, older_than_s: float, within_s: float
) -> Sequence[tuple[uuid.UUID, str, int]]:
    """(handoff, job, round) of a claim's or withdrawal's chat follow-up whose job never wrote its rows.

    Only escalations that had chat posts (a round-0 row) and were claimed or withdrawn between `within_s` and
    `older_than_s` ago are looked at.
    """
    now = utcnow()
    of_chat = and_(Delivery.handoff_id == HandoffRow.id, Delivery.channel.in_(CHAT_CHANNELS))
    found: list[tuple[uuid.UUID, str, int]] = []
    for status, round, at in (
        (HandoffStatus.CLAIMED, CLAIMED_ROUND, HandoffRow.claimed_at),
        (HandoffStatus.WITHDRAWN, WITHDRAWN_ROUND, HandoffRow.closed_at),
    ):
        query = select(HandoffRow.id).where(
            HandoffRow.intent == Intent.ESCALATE,
            HandoffRow.status == status,
            HandoffRow.created_at > now - timedelta(seconds=within_s),
            at < now - timedelta(seconds=older_than_s),
            exists().where(of_chat, Delivery.round == 0),
            ~exists().where(of_chat, Delivery.round == round),
        )
        found += [(h, CHAT_JOB, round) for h in (await db.execute(query.limit(500))).scalars().all()]
    return found


def notify_job_id(handoff_id: uuid.UUID, round: int) -> str:
    """`notify:{id}` for the escalation itself, `notify:{id}:{round}` for a later round."""
    return round_job_id("notify", handoff_id, round)
