"""An account's on-call document: saved whole, read back as saved, and asked who is on call now and when.

Eligibility (an active senior of the account) is read from the directory as it is at the call; the
resolution module does the calendar arithmetic.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import msgspec
from sqlalchemy import BindParameter, Uuid, bindparam, case, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.clock import rfc3339, utcnow
from shared.db.base import table_of
from shared.db.upsert import insert_missing
from shared.directory.who import active_seniors, require_account_manager, require_account_reader
from shared.errors import InvalidField
from shared.oncall.calendar import WEEKDAYS
from shared.oncall.resolution import OnCallDocument, schedule, who_is_on_call
from shared.oncall.schemas import (
    OnCall,
    OnCallGap,
    OnCallNow,
    OnCallOverride,
    OnCallRotation,
    OnCallRotationNow,
    OnCallShift,
    OnCallShifts,
    OnCallUser,
    OnCallWindow,
)
from shared.oncall.tables import OnCallRow
from shared.oncall.validation import check_document, parse_instant, read_document, show_wall_time

DEFAULT_SHIFTS_WINDOW = timedelta(days=14)
MAX_SHIFTS_WINDOW = timedelta(days=35)
T = TypeVar("T")


def document_body(document: OnCallDocument) -> OnCall:
    """The document as the API answers it: wall times as written, instants in UTC, weekdays in week order."""
    return OnCall(
        time_zone=document.time_zone,
        rotations=[
            OnCallRotation(
                name=r.name,
                members=list(r.members),
                start=show_wall_time(r.start),
                turn_days=r.turn_days,
                windows=[
                    OnCallWindow(
                        days=[day for day in WEEKDAYS if day in w.days],
                        from_=w.from_.strftime("%H:%M"),
                        to=w.to.strftime("%H:%M"),
                    )
                    for w in r.windows
                ],
            )
            for r in document.rotations
        ],
        overrides=[
            OnCallOverride(rotation=o.rotation, user_id=o.user_id, start=rfc3339(o.start), end=rfc3339(o.end))
            for o in document.overrides
        ],
    )


class Held(NamedTuple):
    saved_at: datetime
    document: OnCallDocument


class ParsedDocuments:
    """Each account's saved document as the resolution reads it, parsed once per save rather than per escalation:
    a document at its limits (20 rotations x 50 members, 200 overrides) costs more to parse than to resolve.
    Keyed by the row's `updated_at`, which every save sets; the least recently used account goes past `limit`."""

    def __init__(self, limit: int = 1024) -> None:
        self.limit = limit
        self._by_account: OrderedDict[uuid.UUID, Held] = OrderedDict()

    def held(self, account_id: uuid.UUID) -> Held | None:
        return self._by_account.get(account_id)

    def read(
        self, account_id: uuid.UUID, held: Held | None, saved_at: datetime | None, document: Any
    ) -> OnCallDocument:
        """The document saved at `saved_at`, read with `held` bound (`DOCUMENT_UNLESS_HELD`): `document` is None
        when that save is the one held, else it is parsed and held. No row (`saved_at` None): the empty one."""
        if saved_at is None:
            return OnCallDocument()
        if document is None and held is not None and held.saved_at == saved_at:
            return held.document
        parsed = read_document(msgspec.convert(document, OnCall))
        self._by_account[account_id] = Held(saved_at, parsed)
        self._by_account.move_to_end(account_id)
        while len(self._by_account) > self.limit:
            self._by_account.popitem(last=False)
        return parsed

    def bound(self, account_id: uuid.UUID) -> tuple[Held | None, dict[str, Any]]:
        """What the account's statement binds: its id and the save held for it (None when none is)."""
        held = self.held(account_id)
        return held, {"account_id": account_id, "held_saved_at": None if held is None else held.saved_at}


DOCUMENTS = ParsedDocuments()
# The saved document, or NULL when it is the save the process holds parsed already (bound as `held_saved_at`):
# a document at its limits is tens of kilobytes that an escalation need not read again.
_ON_CALL = table_of(OnCallRow).c
DOCUMENT_UNLESS_HELD = case(
    (_ON_CALL.updated_at == bindparam("held_saved_at", type_=_ON_CALL.updated_at.type), null()),
    else_=_ON_CALL.document,
).label("document")
_ACCOUNT: BindParameter[uuid.UUID] = bindparam("account_id", type_=Uuid())
_DOCUMENT = select(_ON_CALL.updated_at, DOCUMENT_UNLESS_HELD).where(_ON_CALL.account_id == _ACCOUNT)


async def on_call_document(db: AsyncSession, account_id: uuid.UUID) -> OnCallDocument:
    """The account's document as the resolution reads it; the empty one (UTC, no rotations) until a PUT."""
    held, params = DOCUMENTS.bound(account_id)
    row = (await db.execute(_DOCUMENT, params)).one_or_none()
    return OnCallDocument() if row is None else DOCUMENTS.read(account_id, held, *row)


async def get_on_call(db: AsyncSession, principal: Principal, account_id: uuid.UUID) -> OnCall:
    require_account_reader(principal, account_id)
    return document_body(await on_call_document(db, account_id))


async def put_on_call(db: AsyncSession, principal: Principal, account_id: uuid.UUID, body: OnCall) -> OnCall:
    """Replace the whole document; members and override users must be active seniors of the account now."""
    require_account_manager(principal, account_id)
    document = check_document(body, (await active_seniors(db, account_id)).keys())
    saved = msgspec.to_builtins(document_body(document))
    # Two first saves at once: both insert-or-skip, then each replaces the row under its lock, last one wins.
    await insert_missing(db, OnCallRow, {"account_id": account_id, "document": saved, "updated_at": utcnow()})
    row = await db.get(OnCallRow, account_id, with_for_update=True, populate_existing=True)
    assert row is not None
    row.document = saved
    row.updated_at = utcnow()
    await db.flush()
    return document_body(document)


def _answerable(field: str, work: Callable[[], T]) -> T:
    """Calendar arithmetic near the year 9999 runs off the end of the calendar: a 400 naming the time asked for."""
    try:
        return work()
    except OverflowError:
        raise InvalidField(field, "is too close to the end of the calendar to answer") from None


async def on_call_now(db: AsyncSession, principal: Principal, account_id: uuid.UUID, at: str | None) -> OnCallNow:
    """Each rotation's answer at `at` (default now), in the document's order."""
    require_account_reader(principal, account_id)
    moment = parse_instant("at", at) if at is not None else utcnow()
    document = await on_call_document(db, account_id)
    seniors = await active_seniors(db, account_id)
    answers = _answerable("at", lambda: who_is_on_call(document, frozenset(seniors), moment))
    return OnCallNow(
        at=rfc3339(moment),
        rotations=[
            OnCallRotationNow(
                name=name,
                user=OnCallUser(id=answer.user_id, name=seniors[answer.user_id])
                if answer.user_id is not None
                else None,
                source=answer.source,
                until=rfc3339(answer.until) if answer.until is not None else None,
            )
            for name, answer in answers.items()
        ],
    )


def shifts_window(since: str | None, until: str | None) -> tuple[datetime, datetime]:
    """The next 14 days by default, at most 35, `since` before `until`."""
    start = parse_instant("since", since) if since is not None else utcnow()
    end = parse_instant("until", until) if until is not None else None
    if end is None:
        end = _answerable("since", lambda: start + DEFAULT_SHIFTS_WINDOW)
    if end <= start:
        raise InvalidField("until", "must be after since")
    if end - start > MAX_SHIFTS_WINDOW:
        raise InvalidField("until", "may be at most 35 days after since")
    return start, end


async def on_call_shifts(
    db: AsyncSession, principal: Principal, account_id: uuid.UUID, since: str | None, until: str | None
) -> OnCallShifts:
    """Every rotation's shifts (merged, clipped to the window, by start) and its gaps, where nobody is on call."""
    require_account_reader(principal, account_id)
    start, end = shifts_window(since, until)
    document = await on_call_document(db, account_id)
    seniors = await active_seniors(db, account_id)
    found = _answerable("until", lambda: schedule(document, frozenset(seniors), start, end))
    return OnCallShifts(
        since=rfc3339(start),
        until=rfc3339(end),
        shifts=[
            OnCallShift(
                rotation=s.rotation,
                user=OnCallUser(id=s.user_id, name=seniors[s.user_id]),
                source=s.source,
                start=rfc3339(s.start),
                end=rfc3339(s.end),
            )
            for s in found.shifts
        ],
        gaps=[OnCallGap(rotation=g.rotation, start=rfc3339(g.start), end=rfc3339(g.end)) for g in found.gaps],
    )
