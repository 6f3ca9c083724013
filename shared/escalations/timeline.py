"""A handoff's timeline, oldest first, built from what is recorded: the handoff row, its assessment,
its delivery rows, its fired timers and its feedback. No separate events table is needed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, get_args

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.clock import rfc3339
from shared.db.aggregates import count_if
from shared.deliveries.schemas import DeliveryState
from shared.deliveries.tables import Delivery
from shared.escalations.schemas import TimelineEntry, TimelineType
from shared.handoffs.schemas import AssessmentStatus, HandoffStatus, Person
from shared.handoffs.service import feedback_of, load_handoff
from shared.handoffs.tables import HandoffRow
from shared.policy.tables import HandoffTimer
from shared.policy.timers import CLAIM_STALE, REMINDER

# Same instant: the order things happen in.
ORDER: dict[str, int] = {kind: position for position, kind in enumerate(get_args(TimelineType))}


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


async def handoff_timeline(db: AsyncSession, principal: Principal, handoff_id: uuid.UUID) -> list[TimelineEntry]:
    """What happened to the handoff, for whoever may read it (a park: only its engineer)."""
    handoff = await load_handoff(db, principal, handoff_id)
    creator = Person(id=handoff.created_by_id, name=handoff.created_by_name)
    claimer = Person(id=handoff.claimed_by_id, name=handoff.claimed_by_name or "") if handoff.claimed_by_id else None
    entries: list[tuple[datetime, TimelineType, Person | None, dict[str, Any]]] = [
        (handoff.created_at, "created", creator, {"intent": handoff.intent, "urgency": handoff.urgency})
    ]
    assessment = handoff.ai_assessment_data or {}
    generated = _parse(assessment.get("generated_at"))
    if generated is not None and handoff.assessment_status in ("ready", "failed"):
        kind: TimelineType = (
            "assessment_ready" if handoff.assessment_status == AssessmentStatus.READY else "assessment_failed"
        )
        entries.append((generated, kind, None, {"provider": assessment.get("provider")}))
    entries += _paging(handoff)
    entries += await _notified(db, handoff)
    timers = (
        await db.execute(
            select(HandoffTimer)
            .where(HandoffTimer.handoff_id == handoff.id, HandoffTimer.fired_at.is_not(None))
            .order_by(HandoffTimer.fired_at)
        )
    ).scalars()
    for timer in timers:
        assert timer.fired_at is not None
        if timer.kind == REMINDER:
            entries.append((timer.fired_at, "reminder", None, {"round": timer.round}))
        elif timer.kind == CLAIM_STALE:
            entries.append((timer.fired_at, "claim_stale", claimer, {}))
    if handoff.claimed_at is not None:
        entries.append((handoff.claimed_at, "claimed", claimer, {"via": handoff.claimed_via or "api"}))
    if handoff.closed_at is not None and handoff.status in (HandoffStatus.RESUMED, HandoffStatus.WITHDRAWN):
        closed: TimelineType = "resumed" if handoff.status == HandoffStatus.RESUMED else "withdrawn"
        entries.append((handoff.closed_at, closed, creator, {}))
    for row in (await feedback_of(db, [handoff.id]))[handoff.id]:
        detail = {"helpful": row.helpful, "resolved_by_step": row.resolved_by_step, "comment": row.comment}
        entries.append((row.at, "feedback", Person(id=row.user_id, name=row.user_name), detail))
    entries.sort(key=lambda e: (e[0], ORDER[e[1]]))
    return [TimelineEntry(at=rfc3339(at), type=kind, actor=actor, detail=detail) for at, kind, actor, detail in entries]


def _paging(handoff: HandoffRow) -> list[tuple[datetime, TimelineType, None, dict[str, Any]]]:
    """Each escalation step as it ran: whom it paged and why, or that it paged nobody new."""
    out: list[tuple[datetime, TimelineType, None, dict[str, Any]]] = []
    for entry in handoff.paging or []:
        at = _parse(entry.get("at"))
        if at is None:
            continue
        at = max(at, handoff.created_at)  # written to the millisecond: step 0 is never before the escalation
        if entry["users"]:
            users = [{"user": {"id": u["id"], "name": u["name"]}, "reason": u["reason"]} for u in entry["users"]]
            out.append((at, "paged", None, {"step": entry["step"], "users": users}))
        else:
            out.append((at, "step_skipped", None, {"step": entry["step"]}))
    return out


async def _notified(db: AsyncSession, handoff: HandoffRow) -> list[tuple[datetime, TimelineType, None, dict[str, Any]]]:
    """One entry per channel and round: how many were sent and failed so far."""
    query = (
        select(
            Delivery.channel,
            Delivery.round,
            func.min(Delivery.created_at),
            func.max(Delivery.sent_at),
            count_if(Delivery.status == DeliveryState.SENT),
            count_if(Delivery.status == DeliveryState.FAILED),
        )
        .where(Delivery.handoff_id == handoff.id)
        .group_by(Delivery.channel, Delivery.round)
    )
    out: list[tuple[datetime, TimelineType, None, dict[str, Any]]] = []
    for channel, round, first, last_sent, sent, failed in (await db.execute(query)).all():
        at = last_sent or first
        detail = {"channel": channel, "round": int(round), "sent": int(sent or 0), "failed": int(failed or 0)}
        out.append((at, "notified", None, detail))
    return out
