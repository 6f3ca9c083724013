"""What the on-call document's shape cannot say, checked field by field; each refusal names its field.

A valid document becomes the resolution's `OnCallDocument`; the same reading turns a saved one back into it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, time, timedelta
from functools import cache
from importlib import resources

from shared.errors import InvalidField
from shared.input_rules import require_in_range
from shared.oncall.calendar import Override, Rotation, Window
from shared.oncall.resolution import OnCallDocument
from shared.oncall.schemas import OnCall, OnCallOverride, OnCallRotation, OnCallWindow

MAX_OVERRIDE = timedelta(days=31)
_WALL_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?")
_WITH_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:[zZ]|[+-]\d{2}:?\d{2})")


@cache
def _zones() -> frozenset[str]:
    # The IANA names the tzdata package ships, not whatever the host's zone folder holds (`localtime`, `posix/...`).
    return frozenset(resources.files("tzdata").joinpath("zones").read_text().split())


def check_zone(name: str) -> str:
    if name not in _zones():
        raise InvalidField("time_zone", f"is not an IANA time zone name: {name[:64]!r}")
    return name


def parse_wall_time(field: str, value: str) -> datetime:
    """`2027-03-22T09:00` (or with seconds): a local wall time, read in the document's zone later."""
    if _WITH_OFFSET.fullmatch(value):
        raise InvalidField(field, "is a local wall time in time_zone: give it without an offset, e.g. 2027-03-22T09:00")
    found = _WALL_TIME.fullmatch(value)
    if found is None:
        raise InvalidField(field, "must be a local wall time like 2027-03-22T09:00, without an offset")
    year, month, day, hour, minute, second = (int(part or 0) for part in found.groups())
    try:
        wall = datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise InvalidField(field, "is not a date and time of the calendar") from None
    if not 2000 <= wall.year <= 9999:
        raise InvalidField(field, "must lie between the years 2000 and 9999")
    return wall


def show_wall_time(wall: datetime) -> str:
    return wall.strftime("%Y-%m-%dT%H:%M:%S" if wall.second else "%Y-%m-%dT%H:%M")


def parse_instant(field: str, value: str) -> datetime:
    """An RFC 3339 time with an offset, years 2000..9999, in UTC."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        require_in_range(field, moment)
    except ValueError as exc:
        reason = str(exc).removeprefix(f"{field} ") if str(exc).startswith(field) else ""
        raise InvalidField(field, reason or "must be an RFC 3339 time with an offset") from None
    return moment.astimezone(UTC)


def _clock(value: str) -> time:
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def _window(field: str, body: OnCallWindow) -> Window:
    seen: set[str] = set()
    for index, day in enumerate(body.days):
        if day in seen:
            raise InvalidField(f"{field}.days[{index}]", f"lists {day} a second time")
        seen.add(day)
    return Window(days=frozenset(body.days), from_=_clock(body.from_), to=_clock(body.to))


def _rotation(field: str, body: OnCallRotation, seniors: Collection[uuid.UUID]) -> Rotation:
    seen: set[uuid.UUID] = set()
    for index, member in enumerate(body.members):
        if member in seen:
            raise InvalidField(f"{field}.members[{index}]", "is already a member of this rotation")
        if member not in seniors:
            raise InvalidField(f"{field}.members[{index}]", "is not an active senior of the account")
        seen.add(member)
    return Rotation(
        name=body.name,
        members=tuple(body.members),
        start=parse_wall_time(f"{field}.start", body.start),
        turn_days=body.turn_days,
        windows=tuple(_window(f"{field}.windows[{index}]", w) for index, w in enumerate(body.windows)),
    )


def _override(field: str, body: OnCallOverride, names: Collection[str], seniors: Collection[uuid.UUID]) -> Override:
    if body.rotation not in names:
        raise InvalidField(f"{field}.rotation", f"names no rotation of this document: {body.rotation!r}")
    if body.user_id not in seniors:
        raise InvalidField(f"{field}.user_id", "is not an active senior of the account")
    start = parse_instant(f"{field}.start", body.start)
    end = parse_instant(f"{field}.end", body.end)
    if end <= start:
        raise InvalidField(f"{field}.end", "must be after start")
    if end - start > MAX_OVERRIDE:
        raise InvalidField(f"{field}.end", "must be at most 31 days after start")
    return Override(rotation=body.rotation, user_id=body.user_id, start=start, end=end)


def check_document(body: OnCall, seniors: Collection[uuid.UUID]) -> OnCallDocument:
    """The document as the resolution reads it; the first rule broken is a 400 naming its field."""
    zone = check_zone(body.time_zone)
    rotations: list[Rotation] = []
    names: set[str] = set()
    for index, rotation in enumerate(body.rotations):
        if rotation.name in names:
            raise InvalidField(f"rotations[{index}].name", f"is the name of an earlier rotation: {rotation.name!r}")
        names.add(rotation.name)
        rotations.append(_rotation(f"rotations[{index}]", rotation, seniors))
    overrides = tuple(
        _override(f"overrides[{index}]", override, names, seniors) for index, override in enumerate(body.overrides)
    )
    return OnCallDocument(time_zone=zone, rotations=tuple(rotations), overrides=overrides)


def read_document(body: OnCall) -> OnCallDocument:
    """A saved document, already checked when it was saved: members who left since stay, they are simply nobody."""
    return OnCallDocument(
        time_zone=body.time_zone,
        rotations=tuple(
            Rotation(
                name=r.name,
                members=tuple(r.members),
                start=parse_wall_time("start", r.start),
                turn_days=r.turn_days,
                windows=tuple(_window("windows", w) for w in r.windows),
            )
            for r in body.rotations
        ),
        overrides=tuple(
            Override(
                rotation=o.rotation,
                user_id=o.user_id,
                start=parse_instant("start", o.start),
                end=parse_instant("end", o.end),
            )
            for o in body.overrides
        ),
    )
