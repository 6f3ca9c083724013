"""Team figures of an account's escalations over a window: counts, time to claim, reminders, assessments.

Counts are SQL on both databases. Percentiles are `percentile_cont` on PostgreSQL; SQLite has none,
so there the same interpolation runs over the window's claim times, which SQL computes.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, Float, and_, case, cast, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.clock import rfc3339, utcnow
from shared.db.aggregates import count_if
from shared.directory.who import require_account_manager
from shared.errors import InvalidInput
from shared.escalations.schemas import (
    AssessmentFigures,
    DailyFigures,
    HandoffStats,
    TimeToClaim,
    UrgencyFigures,
)
from shared.handoffs.schemas import AssessmentStatus, HandoffStatus, Intent, Urgency
from shared.handoffs.tables import AssessmentFeedbackRow, HandoffRow
from shared.input_rules import require_in_range

DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=366)
URGENCIES = tuple(u.value for u in Urgency)


def parse_time(field: str, value: str | None) -> datetime | None:
    """A query time: RFC 3339 with an offset, years 2000..9999; else a 400 naming the field."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        require_in_range(field, parsed)
    except ValueError as exc:
        message = str(exc) if field in str(exc) else f"{field} must be an RFC 3339 time with an offset"
        raise InvalidInput(message) from None
    return parsed.astimezone(UTC)


def window(since: str | None, until: str | None) -> tuple[datetime, datetime]:
    """The window asked for: the last 7 days by default, at most 366 days, `since` before `until`."""
    end = parse_time("until", until) or utcnow()
    start = parse_time("since", since) or end - DEFAULT_WINDOW
    if start >= end:
        raise InvalidInput("since must be before until")
    if end - start > MAX_WINDOW:
        raise InvalidInput("the window from since to until may span at most 366 days")
    return start, end


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks, as PostgreSQL's `percentile_cont`."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def _claim_seconds(postgres: bool) -> ColumnElement[Any]:
    if postgres:
        return func.extract("epoch", HandoffRow.claimed_at - HandoffRow.created_at)
    return (func.julianday(HandoffRow.claimed_at) - func.julianday(HandoffRow.created_at)) * 86400.0


def _day(postgres: bool) -> ColumnElement[Any]:
    if postgres:
        return cast(func.timezone("UTC", HandoffRow.created_at), Date)
    return func.date(HandoffRow.created_at)  # stored as UTC text


async def handoff_stats(
    db: AsyncSession, principal: Principal, account_id: uuid.UUID, *, since: str | None, until: str | None
) -> HandoffStats:
    """The account's figures for escalations created in [since, until)."""
    require_account_manager(principal, account_id)
    start, end = window(since, until)
    postgres = db.get_bind().dialect.name == "postgresql"
    in_window = and_(
        HandoffRow.account_id == account_id,
        HandoffRow.intent == Intent.ESCALATE,
        HandoffRow.created_at >= start,
        HandoffRow.created_at < end,
    )
    claimed = HandoffRow.claimed_at.is_not(None)

    counts_query = (
        select(
            HandoffRow.urgency,
            func.count(),
            count_if(claimed),
            count_if(HandoffRow.status == HandoffStatus.WITHDRAWN),
            count_if(HandoffRow.status == HandoffStatus.OPEN),
            func.coalesce(func.sum(HandoffRow.reminders_sent), 0),
            count_if(HandoffRow.assessment_status == AssessmentStatus.READY),
            count_if(HandoffRow.assessment_status == AssessmentStatus.FAILED),
        )
        .where(in_window)
        .group_by(HandoffRow.urgency)
    )
    counts: dict[str, list[int]] = {u: [0] * 7 for u in URGENCIES}
    for urgency, *figures in (await db.execute(counts_query)).all():
        counts[str(urgency)] = [int(f) for f in figures]

    seconds = _claim_seconds(postgres)
    by_urgency_ttc: dict[str, TimeToClaim] = {}
    if postgres:
        pct = [
            func.percentile_cont(0.5).within_group(seconds),
            func.percentile_cont(0.9).within_group(seconds),
            func.max(seconds),
        ]
        overall = (await db.execute(select(*pct).where(in_window, claimed))).one()
        overall_ttc = TimeToClaim(p50=_seconds(overall[0]), p90=_seconds(overall[1]), max=_seconds(overall[2]))
        grouped = select(HandoffRow.urgency, *pct).where(in_window, claimed).group_by(HandoffRow.urgency)
        for urgency, p50, p90, top in (await db.execute(grouped)).all():
            by_urgency_ttc[str(urgency)] = TimeToClaim(p50=_seconds(p50), p90=_seconds(p90), max=_seconds(top))
    else:
        rows = (await db.execute(select(HandoffRow.urgency, seconds).where(in_window, claimed))).all()
        per: dict[str, list[float]] = defaultdict(list)
        for urgency, value in rows:
            per[str(urgency)].append(float(value))
        overall_ttc = _ttc([v for values in per.values() for v in values])
        by_urgency_ttc = {u: _ttc(values) for u, values in per.items()}

    empty = TimeToClaim(p50=None, p90=None, max=None)
    by_urgency = {
        u: UrgencyFigures(
            escalations=counts[u][0],
            claimed=counts[u][1],
            withdrawn=counts[u][2],
            open_now=counts[u][3],
            time_to_claim_s=by_urgency_ttc.get(u, empty),
        )
        for u in URGENCIES
    }
    total = [sum(counts[u][i] for u in URGENCIES) for i in range(7)]

    rated_query = (
        select(
            func.count(distinct(AssessmentFeedbackRow.handoff_id)),
            func.count(distinct(case((AssessmentFeedbackRow.helpful.is_(True), AssessmentFeedbackRow.handoff_id)))),
        )
        .join(HandoffRow, HandoffRow.id == AssessmentFeedbackRow.handoff_id)
        .where(in_window)
    )
    rated, helpful = (await db.execute(rated_query)).one()

    return HandoffStats(
        since=rfc3339(start),
        until=rfc3339(end),
        escalations=total[0],
        claimed=total[1],
        withdrawn=total[2],
        open_now=total[3],
        time_to_claim_s=overall_ttc,
        by_urgency=by_urgency,
        reminders_sent=total[4],
        assessments=AssessmentFigures(ready=total[5], failed=total[6], rated=int(rated), helpful=int(helpful)),
        daily=await _daily(db, in_window, postgres, start, end),
    )


def _ttc(values: list[float]) -> TimeToClaim:
    if not values:
        return TimeToClaim(p50=None, p90=None, max=None)
    return TimeToClaim(
        p50=_seconds(percentile(values, 0.5)), p90=_seconds(percentile(values, 0.9)), max=_seconds(max(values))
    )


async def _daily(
    db: AsyncSession, in_window: ColumnElement[bool], postgres: bool, start: datetime, end: datetime
) -> list[DailyFigures]:
    """One entry per UTC day of the window, days without escalations included."""
    day = _day(postgres)
    claimed = HandoffRow.claimed_at.is_not(None)
    seconds = _claim_seconds(postgres)
    counts_query = select(day, func.count(), count_if(claimed)).where(in_window).group_by(day)
    counts = {str(d): (int(n), int(c)) for d, n, c in (await db.execute(counts_query)).all()}
    medians: dict[str, float | None] = {}
    if postgres:
        query = (
            select(day, func.percentile_cont(0.5).within_group(cast(seconds, Float)))
            .where(in_window, claimed)
            .group_by(day)
        )
        medians = {str(d): _seconds(p50) for d, p50 in (await db.execute(query)).all()}
    else:
        per: dict[str, list[float]] = defaultdict(list)
        for d, value in (await db.execute(select(day, seconds).where(in_window, claimed))).all():
            per[str(d)].append(float(value))
        medians = {d: _seconds(percentile(values, 0.5)) for d, values in per.items()}
    out: list[DailyFigures] = []
    current: date = start.date()
    last = (end - timedelta(microseconds=1)).date()
    while current <= last:
        key = current.isoformat()
        escalations, claimed_count = counts.get(key, (0, 0))
        out.append(
            DailyFigures(date=key, escalations=escalations, claimed=claimed_count, time_to_claim_p50_s=medians.get(key))
        )
        current += timedelta(days=1)
    return out
