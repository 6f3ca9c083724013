"""Paging by escalation steps: step 0 when the escalation is made, each later one when its timer fires.

Targets are resolved at the instant a step runs (the on-call document and the directory as they are
then), never cached; who a step pages is the directory's rule (`who.step_pages`). Paging someone
writes their round-0 email row (with the step), a `notify` job and a `handoff_paged` event, all in the
caller's transaction, and records the page on the handoff, whose row lock makes each senior paged once.

An account that never saved steps has the default single step, `all_seniors` at once: every eligible
senior is paged at creation, as before steps existed, and recorded like any other page.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.channels import EMAIL
from shared.clock import rfc3339
from shared.db.base import table_of
from shared.deliveries.service import ensure_deliveries
from shared.directory.tables import User
from shared.directory.who import OnCallFacts, Page, active_senior, active_seniors, fallback_pages, step_pages
from shared.handoffs.events import announce
from shared.handoffs.settings import EscalationSettings
from shared.handoffs.tables import HandoffRow
from shared.oncall.resolution import OnCallDocument, who_is_on_call_at
from shared.oncall.service import on_call_document
from shared.outbox.writer import add_job
from shared.policy.schemas import EscalationPolicy
from shared.policy.timers import STEP, add_timer


class Senior(NamedTuple):
    """An active senior of the account as a step pages them."""

    id: uuid.UUID
    name: str
    email: str


# Every active senior of the account (the escalator too: they may be on call), by email: the order seniors are paged.
_USERS = table_of(User).c
_ACTIVE_SENIORS = (
    select(_USERS.id, _USERS.name, _USERS.email).where(active_senior(bindparam("account_id"))).order_by(_USERS.email)
)


def paged_ids(handoff: HandoffRow) -> set[uuid.UUID]:
    """Everyone the handoff's steps have paged so far."""
    return {uuid.UUID(str(user["id"])) for entry in handoff.paging or [] for user in entry["users"]}


def on_call_from(document: OnCallDocument, eligible: frozenset[uuid.UUID], moment: datetime) -> dict[str, OnCallFacts]:
    """Each rotation's answer at `moment`, members who are not `eligible` counting as nobody."""
    if not document.rotations:
        return {}
    try:
        answers = who_is_on_call_at(document, eligible, moment)
    except OverflowError:  # the calendar's end: nobody
        return {}
    return {name: OnCallFacts(user_id, source) for name, (user_id, source) in answers.items()}


async def on_call_at(db: AsyncSession, account_id: uuid.UUID, moment: datetime) -> dict[str, OnCallFacts]:
    """Each rotation's answer at `moment`, members who are no active senior then counting as nobody."""
    document = await on_call_document(db, account_id)
    if not document.rotations:
        return {}
    return on_call_from(document, frozenset(await active_seniors(db, account_id)), moment)


async def run_steps(
    db: AsyncSession,
    handoff: HandoffRow,
    policy: EscalationPolicy,
    first: int,
    now: datetime,
    *,
    document: OnCallDocument | None = None,
) -> None:
    """Run step `first`, and each next one at once while a step pages nobody new; then set the next step's timer.

    With every step passed and nobody ever paged, every eligible senior is paged with reason `fallback`.
    Reads come first and flush nothing: what the caller added (a new escalation's row, its events, jobs and
    timers) is written with what the steps add, one INSERT per table, then the paged seniors' email rows.
    `document` is the on-call document when the caller read it already.
    """
    steps = policy.escalation_steps()
    with db.no_autoflush:
        if document is None:
            document = await on_call_document(db, handoff.account_id)
        active = [Senior(*row) for row in await db.execute(_ACTIVE_SENIORS, {"account_id": handoff.account_id})]
    seniors = {user.id: user for user in active if user.id != handoff.created_by_id}
    eligible = list(seniors)
    on_call = on_call_from(document, frozenset(user.id for user in active), now)
    entries: list[dict[str, Any]] = list(handoff.paging or [])
    already = paged_ids(handoff)
    paged: tuple[int, list[Page]] | None = None
    for index in range(first, len(steps)):
        pages = step_pages(steps[index].notify, on_call, eligible, already)
        if not pages:
            entries.append({"step": index, "at": rfc3339(now), "users": []})  # skipped: the next one runs now
            continue
        _page(db, handoff, entries, index, pages, seniors, now)
        paged = (index, pages)
        if index + 1 < len(steps):
            due = handoff.created_at + timedelta(seconds=steps[index + 1].after_s)
            add_timer(db, handoff, STEP, index + 1, max(due, now))
        break
    else:
        if not already:
            pages = fallback_pages(eligible)
            if pages:
                _page(db, handoff, entries, len(steps), pages, seniors, now)
                paged = (len(steps), pages)
    handoff.paging = entries
    await db.flush()
    if paged is not None:
        step, pages = paged
        await ensure_deliveries(
            db,
            handoff_id=handoff.id,
            account_id=handoff.account_id,
            channel=EMAIL.name,
            recipients=[(seniors[p.user_id].email, p.user_id) for p in pages],
            step=step,
        )


def _page(
    db: AsyncSession,
    handoff: HandoffRow,
    entries: list[dict[str, Any]],
    step: int,
    pages: Sequence[Page],
    seniors: dict[uuid.UUID, Senior],
    now: datetime,
) -> None:
    """Record the step's pages on the handoff, with their event and (after step 0) their `notify` job; the email
    rows are written once the handoff's row is (`run_steps`)."""
    users = [{"id": str(p.user_id), "name": seniors[p.user_id].name, "reason": p.reason} for p in pages]
    entries.append({"step": step, "at": rfc3339(now), "users": users})
    # Step 0's emails go with the escalation's own `notify` job; a later step's with one of its own.
    if step:
        add_job(
            db,
            account_id=handoff.account_id,
            name="notify",
            job_id=f"notify:{handoff.id}:step{step}",
            payload={"handoff_id": str(handoff.id), "account_id": str(handoff.account_id), "round": 0},
        )
    handoff.paging = list(entries)
    paged = [{"user": {"id": u["id"], "name": u["name"]}, "reason": u["reason"]} for u in users]
    announce(db, handoff, "handoff_paged", step=step, paged=paged)


async def page_first_step(db: AsyncSession, handoff: HandoffRow, settings: EscalationSettings) -> None:
    """Step 0 of a new escalation (and those after it at once, if it pages nobody), in the transaction that makes it,
    with the settings the escalation read."""
    await run_steps(db, handoff, settings.policy, 0, handoff.created_at, document=settings.on_call)
