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
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.channels import EMAIL
from shared.clock import rfc3339
from shared.deliveries.service import ensure_deliveries
from shared.directory.tables import User
from shared.directory.who import OnCallFacts, Page, active_seniors, fallback_pages, seniors_to_page, step_pages
from shared.handoffs.events import announce
from shared.handoffs.schemas import Handoff
from shared.handoffs.tables import HandoffRow
from shared.handoffs.views import handoff_out
from shared.oncall.resolution import who_is_on_call
from shared.oncall.service import on_call_document
from shared.outbox.writer import add_job
from shared.policy.schemas import EscalationPolicy
from shared.policy.service import policy_of
from shared.policy.timers import STEP, add_timer


def paged_ids(handoff: HandoffRow) -> set[uuid.UUID]:
    """Everyone the handoff's steps have paged so far."""
    return {uuid.UUID(str(user["id"])) for entry in handoff.paging or [] for user in entry["users"]}


async def on_call_at(db: AsyncSession, account_id: uuid.UUID, moment: datetime) -> dict[str, OnCallFacts]:
    """Each rotation's answer at `moment`, members who are no active senior then counting as nobody."""
    document = await on_call_document(db, account_id)
    if not document.rotations:
        return {}
    eligible = frozenset(await active_seniors(db, account_id))
    try:
        answers = who_is_on_call(document, eligible, moment)
    except OverflowError:  # the calendar's end: nobody
        return {}
    return {name: OnCallFacts(answer.user_id, answer.source) for name, answer in answers.items()}


async def run_steps(db: AsyncSession, handoff: HandoffRow, policy: EscalationPolicy, first: int, now: datetime) -> None:
    """Run step `first`, and each next one at once while a step pages nobody new; then set the next step's timer.

    With every step passed and nobody ever paged, every eligible senior is paged with reason `fallback`.
    """
    steps = policy.escalation_steps()
    seniors = {user.id: user for user in await seniors_to_page(db, handoff.account_id, handoff.created_by_id)}
    eligible = list(seniors)
    on_call = await on_call_at(db, handoff.account_id, now)
    entries: list[dict[str, Any]] = list(handoff.paging or [])
    already = paged_ids(handoff)
    for index in range(first, len(steps)):
        pages = step_pages(steps[index].notify, on_call, eligible, already)
        if not pages:
            entries.append({"step": index, "at": rfc3339(now), "users": []})  # skipped: the next one runs now
            continue
        await _page(db, handoff, entries, index, pages, seniors, now)
        if index + 1 < len(steps):
            due = handoff.created_at + timedelta(seconds=steps[index + 1].after_s)
            add_timer(db, handoff, STEP, index + 1, max(due, now))
        handoff.paging = entries
        return
    if not already:
        pages = fallback_pages(eligible)
        if pages:
            await _page(db, handoff, entries, len(steps), pages, seniors, now)
    handoff.paging = entries


async def _page(
    db: AsyncSession,
    handoff: HandoffRow,
    entries: list[dict[str, Any]],
    step: int,
    pages: Sequence[Page],
    seniors: dict[uuid.UUID, User],
    now: datetime,
) -> None:
    users = [{"id": str(p.user_id), "name": seniors[p.user_id].name, "reason": p.reason} for p in pages]
    entries.append({"step": step, "at": rfc3339(now), "users": users})
    await ensure_deliveries(
        db,
        handoff_id=handoff.id,
        account_id=handoff.account_id,
        channel=EMAIL.name,
        recipients=[(seniors[p.user_id].email, p.user_id) for p in pages],
        step=step,
    )
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


async def page_first_step(db: AsyncSession, handoff_id: uuid.UUID) -> Handoff:
    """Step 0 of a new escalation (and those after it at once, if it pages nobody); the Handoff as it is then."""
    handoff = await db.get(HandoffRow, handoff_id)
    assert handoff is not None, "paged in the transaction that created it"
    await run_steps(db, handoff, await policy_of(db, handoff.account_id), 0, handoff.created_at)
    await db.flush()
    return handoff_out(handoff)
