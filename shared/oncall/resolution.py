"""Who is on call: turns and windows, overlaid by overrides, filtered by who may be paged.

Pure functions over plain values; the caller resolves the directory (the active seniors at the instant
it asks about) and passes their ids in as `eligible`.
"""

from __future__ import annotations

import heapq
import uuid
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from shared.oncall.calendar import Override, Rotation, as_utc, duties

Source = Literal["turn", "override"]
LOOKAHEAD = timedelta(days=366)
_FIRST_LOOK = timedelta(days=1)
_TICK = timedelta(microseconds=1)


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """Who is on call at an instant, why, and the next instant that changes (None if not within 366 days)."""

    user_id: uuid.UUID | None
    source: Source | None
    until: datetime | None


class Shift(msgspec.Struct, frozen=True, kw_only=True):
    rotation: str
    user_id: uuid.UUID
    source: Source
    start: datetime
    end: datetime


class Gap(msgspec.Struct, frozen=True, kw_only=True):
    rotation: str
    start: datetime
    end: datetime


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """Shifts and gaps that together tile the asked window, each list sorted by start."""

    shifts: tuple[Shift, ...]
    gaps: tuple[Gap, ...]


class OnCallDocument(msgspec.Struct, frozen=True, kw_only=True):
    time_zone: str = "UTC"
    rotations: tuple[Rotation, ...] = ()
    overrides: tuple[Override, ...] = ()


class _Segment(msgspec.Struct):
    start: datetime
    end: datetime
    user_id: uuid.UUID | None
    source: Source | None


def _covered(rotation: str, overrides: tuple[Override, ...], since: datetime, until: datetime) -> list[_Segment]:
    """Where overrides hold the rotation in [since, until), the later in the list winning where they overlap."""
    mine = [
        (index, max(as_utc(o.start), since), min(as_utc(o.end), until), o.user_id)
        for index, o in enumerate(overrides)
        if o.rotation == rotation and as_utc(o.end) > since and as_utc(o.start) < until
    ]
    points = sorted({edge for _, start, end, _ in mine for edge in (start, end)})
    mine.sort(key=lambda o: o[1])
    active: list[tuple[int, datetime, uuid.UUID]] = []
    out: list[_Segment] = []
    n = 0
    for here, there in pairwise(points):
        while n < len(mine) and mine[n][1] <= here:
            index, _, end, user_id = mine[n]
            heapq.heappush(active, (-index, end, user_id))
            n += 1
        # Expired overrides below the top wait until they surface; only the top decides.
        while active and active[0][1] <= here:
            heapq.heappop(active)
        if active:
            out.append(_Segment(here, there, active[0][2], "override"))
    return out


def _timeline(
    zone: ZoneInfo,
    rotation: Rotation,
    overrides: tuple[Override, ...],
    eligible: frozenset[uuid.UUID],
    since: datetime,
    until: datetime,
) -> list[_Segment]:
    """Segments tiling [since, until), adjacent ones always differing in who or why."""
    base = duties(zone, rotation, since, until)
    cover = _covered(rotation.name, overrides, since, until)
    points = sorted(
        {since, until} | {e for d in base for e in (d.start, d.end)} | {e for c in cover for e in (c.start, c.end)}
    )
    out: list[_Segment] = []
    i = j = 0
    for here, there in pairwise(points):
        while i < len(base) and base[i].end <= here:
            i += 1
        while j < len(cover) and cover[j].end <= here:
            j += 1
        user_id: uuid.UUID | None = None
        source: Source | None = None
        if j < len(cover) and cover[j].start <= here:
            user_id, source = cover[j].user_id, "override"
        elif i < len(base) and base[i].start <= here:
            user_id, source = base[i].user_id, "turn"
        if user_id not in eligible:
            user_id, source = None, None
        if out and out[-1].user_id == user_id and out[-1].source == source:
            out[-1].end = there
        else:
            out.append(_Segment(here, there, user_id, source))
    return out


def on_call(
    zone_name: str,
    rotation: Rotation,
    overrides: tuple[Override, ...],
    eligible: frozenset[uuid.UUID],
    at: datetime,
) -> Answer:
    """Who is on call in `rotation` at `at`, and `until`, the first later instant at which that changes."""
    zone, at = ZoneInfo(zone_name), as_utc(at)
    horizon = at + LOOKAHEAD
    current: tuple[uuid.UUID | None, Source | None] | None = None
    # Look a day ahead first and widen fourfold: most answers change within hours.
    begin, span = at, _FIRST_LOOK
    while begin <= horizon:
        end = min(begin + span, horizon + _TICK)
        for segment in _timeline(zone, rotation, overrides, eligible, begin, end):
            if current is None:
                current = (segment.user_id, segment.source)
            elif (segment.user_id, segment.source) != current:
                return Answer(user_id=current[0], source=current[1], until=segment.start)
        begin, span = end, span * 4
    assert current is not None
    return Answer(user_id=current[0], source=current[1], until=None)


def shifts(
    zone_name: str,
    rotation: Rotation,
    overrides: tuple[Override, ...],
    eligible: frozenset[uuid.UUID],
    since: datetime,
    until: datetime,
) -> Schedule:
    """The rotation's shifts and gaps over [since, until), clipped to it; an empty window has neither."""
    since, until = as_utc(since), as_utc(until)
    if until <= since:
        return Schedule(shifts=(), gaps=())
    found, holes = [], []
    for segment in _timeline(ZoneInfo(zone_name), rotation, overrides, eligible, since, until):
        if segment.user_id is None or segment.source is None:
            holes.append(Gap(rotation=rotation.name, start=segment.start, end=segment.end))
        else:
            found.append(
                Shift(
                    rotation=rotation.name,
                    user_id=segment.user_id,
                    source=segment.source,
                    start=segment.start,
                    end=segment.end,
                )
            )
    return Schedule(shifts=tuple(found), gaps=tuple(holes))


def who_is_on_call(document: OnCallDocument, eligible: frozenset[uuid.UUID], at: datetime) -> dict[str, Answer]:
    """Every rotation's answer at `at`, keyed by name in the document's order."""
    return {
        rotation.name: on_call(document.time_zone, rotation, document.overrides, eligible, at)
        for rotation in document.rotations
    }


def who_is_on_call_at(
    document: OnCallDocument, eligible: frozenset[uuid.UUID], at: datetime
) -> dict[str, tuple[uuid.UUID | None, Source | None]]:
    """Every rotation's who and why at `at`, as `who_is_on_call` answers them, without looking ahead for `until`.

    What a step pages by: only the instant is resolved (each rotation's timeline over one microsecond), so at the
    contract's limits (20 rotations, 200 overrides) it costs a fraction of finding when each answer changes.
    """
    at = as_utc(at)
    zone, until = ZoneInfo(document.time_zone), at + _TICK
    by_rotation: dict[str, list[Override]] = {}
    for override in document.overrides:
        by_rotation.setdefault(override.rotation, []).append(override)
    answers: dict[str, tuple[uuid.UUID | None, Source | None]] = {}
    for rotation in document.rotations:
        first = _timeline(zone, rotation, tuple(by_rotation.get(rotation.name, ())), eligible, at, until)[0]
        answers[rotation.name] = (first.user_id, first.source)
    return answers


def schedule(document: OnCallDocument, eligible: frozenset[uuid.UUID], since: datetime, until: datetime) -> Schedule:
    """Every rotation's shifts and gaps over [since, until), sorted by start, ties in the document's order."""
    found: list[Shift] = []
    holes: list[Gap] = []
    for rotation in document.rotations:
        one = shifts(document.time_zone, rotation, document.overrides, eligible, since, until)
        found.extend(one.shifts)
        holes.extend(one.gaps)
    # sorted() is stable, so rotations keep the document's order at equal starts.
    return Schedule(
        shifts=tuple(sorted(found, key=lambda s: s.start)), gaps=tuple(sorted(holes, key=lambda g: g.start))
    )
