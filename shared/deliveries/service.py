"""Delivery rows: one per handoff, recipient and channel, so a retried job never notifies twice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.policy import require_senior
from shared.auth.principal import SENIOR_ROLES, Principal
from shared.clock import rfc3339, utcnow
from shared.db.models import Delivery, User
from shared.deliveries.schemas import DeliveryOut
from shared.handoffs.service import load_handoff
from shared.observability.metrics import DELIVERIES

MAX_ERROR_CHARS = 500


def _out(row: Delivery) -> DeliveryOut:
    return DeliveryOut(
        channel=row.channel,  # type: ignore[arg-type]
        recipient=row.recipient,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        last_error=row.last_error,
        sent_at=rfc3339(row.sent_at) if row.sent_at else None,
    )


async def list_deliveries(db: AsyncSession, principal: Principal, handoff_id: uuid.UUID) -> list[DeliveryOut]:
    """Who was told about a handoff, how, and how it went."""
    require_senior(principal)
    handoff = await load_handoff(db, principal, handoff_id)
    query = select(Delivery).where(Delivery.handoff_id == handoff.id).order_by(Delivery.channel, Delivery.recipient)
    return [_out(row) for row in (await db.execute(query)).scalars().all()]


async def eligible_recipients(db: AsyncSession, account_id: uuid.UUID, escalator_id: uuid.UUID) -> Sequence[User]:
    """Every active, not deleted senior of the account except the escalator."""
    query = (
        select(User)
        .where(
            User.account_id == account_id,
            User.active.is_(True),
            User.deleted_at.is_(None),
            User.role.in_(SENIOR_ROLES),
            User.id != escalator_id,
        )
        .order_by(User.email)
    )
    return (await db.execute(query)).scalars().all()


async def ensure_deliveries(
    db: AsyncSession,
    *,
    handoff_id: uuid.UUID,
    account_id: uuid.UUID,
    channel: str,
    recipients: Sequence[tuple[str, uuid.UUID | None]],
) -> None:
    """Create the missing rows; existing ones (from an earlier run) are left as they are."""
    if not recipients:
        return
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    values: list[dict[str, Any]] = [
        {
            "handoff_id": handoff_id,
            "account_id": account_id,
            "channel": channel,
            "recipient": recipient,
            "user_id": user_id,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for recipient, user_id in recipients
    ]
    await db.execute(insert(Delivery).values(values).on_conflict_do_nothing())


async def pending_deliveries(db: AsyncSession, handoff_id: uuid.UUID, channel: str) -> Sequence[Delivery]:
    query = select(Delivery).where(
        Delivery.handoff_id == handoff_id, Delivery.channel == channel, Delivery.status == "pending"
    )
    return (await db.execute(query.order_by(Delivery.id))).scalars().all()


async def record_outcome(
    db: AsyncSession,
    delivery_id: int,
    status: str,
    *,
    error: str | None = None,
    external_id: str | None = None,
    attempted: bool = True,
) -> None:
    """One attempt's outcome: `sent`, `failed` (for good), `skipped`, or still `pending` (will retry)."""
    values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
    if attempted:
        values["attempts"] = Delivery.attempts + 1
    if error is not None:
        values["last_error"] = error[:MAX_ERROR_CHARS]
    if status == "sent":
        values["sent_at"] = utcnow()
        values["last_error"] = None
    if external_id is not None:
        values["external_id"] = external_id
    channel = await db.scalar(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "pending")
        .values(**values)
        .returning(Delivery.channel)
        .execution_options(synchronize_session=False)
    )
    if channel is not None:
        DELIVERIES.labels(channel, "retry" if status == "pending" else status).inc()
