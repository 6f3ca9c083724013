"""Who: who may act, see a handoff or a session, stream, claim, and who is paged for an escalation.

Every rule and its message lives here, called by the API's guards, the domain, the notify job, the
timers and the sweeper alike. The rules take the facts they weigh (a row, and whether it is a park),
so no domain above the directory has to be imported to ask them.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.db.base import table_of
from shared.directory.tables import User
from shared.errors import CannotClaimOwnHandoff, Forbidden, HandoffNotClaimable, NotFound

# The people an escalation goes to, and those who may run an account.
SENIOR_ROLES: frozenset[str] = frozenset({"owner", "admin", "engineer"})
ADMIN_ROLES: frozenset[str] = frozenset({"owner", "admin"})


def is_senior(principal: Principal) -> bool:
    return principal.role in SENIOR_ROLES


def is_account_admin(principal: Principal) -> bool:
    return principal.role in ADMIN_ROLES


# --- acting on an account ---------------------------------------------------------------------------


def require_member(principal: Principal) -> uuid.UUID:
    """The caller's account; service tokens act on no account's sessions."""
    if principal.account_id is None:
        raise Forbidden("this call needs a user of an account")
    return principal.account_id


def require_senior(principal: Principal) -> uuid.UUID:
    """An engineer, admin or owner of an account: the people an escalation goes to."""
    account_id = require_member(principal)
    if not is_senior(principal):
        raise Forbidden("only engineers, admins and owners may do this")
    return account_id


def require_account_manager(principal: Principal, account_id: uuid.UUID | None = None) -> None:
    """The main application (`service`), or an owner or admin of that very account.

    Without `account_id` only the role is checked (the API's guard); the domain passes the account.
    """
    if principal.is_service:
        return
    if not is_account_admin(principal):
        raise Forbidden("only the main application or an owner or admin of the account may do this")
    if account_id is not None and not principal.in_account(account_id):
        raise NotFound("account")


def require_account_reader(principal: Principal, account_id: uuid.UUID) -> None:
    """The main application, or any user of that very account, viewers included."""
    if principal.is_service:
        return
    if not principal.in_account(account_id):
        raise NotFound("account")


def may_see_emails(principal: Principal) -> bool:
    """Members' email addresses are for those who run the account: the main application, owners, admins."""
    return principal.is_service or is_account_admin(principal)


def require_service(principal: Principal) -> None:
    """The main application only: what widens an account's reach beyond what its own admins may decide."""
    if not principal.is_service:
        raise Forbidden("only the main application may do this")


# --- the directory's word on a user -----------------------------------------------------------------


class Standing(NamedTuple):
    """What the directory holds that decides whether a user may act or stream."""

    account_id: uuid.UUID
    role: str
    active: bool
    deleted_at: datetime | None


def standing_of(user: User) -> Standing:
    return Standing(user.account_id, user.role, user.active, user.deleted_at)


def may_act(standing: Standing, account_id: uuid.UUID | None) -> bool:
    """Whether a signed-in user the directory knows may act in the account their token names."""
    return standing.active and standing.deleted_at is None and standing.account_id == account_id


def may_stream(standing: Standing, account_id: uuid.UUID) -> bool:
    """Whether a directory user may hold the account's escalation stream: an active senior of it."""
    return may_act(standing, account_id) and standing.role in SENIOR_ROLES


def may_pick_up(standing: Standing, account_id: uuid.UUID) -> bool:
    """Whether the senior an email's pick-up link belongs to may still press it: an active senior of that account."""
    return may_stream(standing, account_id)


# --- seeing and working on sessions and handoffs ----------------------------------------------------


class SessionFacts(Protocol):
    """What the rules weigh of a session (its row, say): the directory knows no domain above it."""

    @property
    def account_id(self) -> uuid.UUID: ...
    @property
    def engineer_id(self) -> uuid.UUID: ...


class HandoffFacts(Protocol):
    """What the rules weigh of a handoff (its row, say)."""

    @property
    def account_id(self) -> uuid.UUID: ...
    @property
    def created_by_id(self) -> uuid.UUID: ...


def may_see_session(principal: Principal, session: SessionFacts, *, parked: bool) -> bool:
    """A session of the caller's account; a parked one only for its engineer."""
    return principal.in_account(session.account_id) and (not parked or session.engineer_id == principal.user_id)


def may_see_handoff(principal: Principal, handoff: HandoffFacts, *, park: bool) -> bool:
    """A handoff of the caller's account; a park only for the engineer who parked it."""
    return principal.in_account(handoff.account_id) and (not park or handoff.created_by_id == principal.user_id)


def require_session_engineer(principal: Principal, engineer_id: uuid.UUID) -> None:
    """Only the session's current engineer writes to it."""
    if engineer_id != principal.user_id:
        raise Forbidden("only the session's current engineer can add messages")


def require_may_hand_off(principal: Principal, engineer_id: uuid.UUID, *, park: bool) -> None:
    """The session's engineer hands it off; an admin or owner may escalate it for them, never park it."""
    is_engineer = engineer_id == principal.user_id
    if park and not is_engineer:
        raise Forbidden("only the session's engineer can park it")
    if not (is_engineer or is_account_admin(principal)):
        raise Forbidden("only the session's engineer, or an admin of the account, can hand it off")


def require_escalator(principal: Principal, created_by_id: uuid.UUID) -> None:
    if created_by_id != principal.user_id:
        raise Forbidden("only the engineer who escalated can withdraw it")


def require_may_claim(principal: Principal, handoff: HandoffFacts, *, park: bool) -> None:
    """A senior claims someone else's escalation; a park is its engineer's to resume, never claimed.

    The role is checked before the handoff is loaded (`require_senior`); this weighs the handoff.
    """
    if park:
        raise HandoffNotClaimable("a park is resumed by its engineer, not claimed")
    if handoff.created_by_id == principal.user_id:
        raise CannotClaimOwnHandoff()


# --- who is paged -----------------------------------------------------------------------------------


def pageable(
    account_id: uuid.UUID | SQLColumnExpression[uuid.UUID], escalator_id: uuid.UUID | SQLColumnExpression[uuid.UUID]
) -> ColumnElement[bool]:
    """The users eligible to be paged for an escalation: every active senior of its account but the escalator.

    A SQL condition on `User`, so a query (the notify job, the reminders) and a correlated EXISTS (the
    sweeper, with the handoff's columns) ask the same question. Viewers, inactive and deleted users never.
    """
    return and_(
        User.account_id == account_id,
        User.active.is_(True),
        User.deleted_at.is_(None),
        User.role.in_(SENIOR_ROLES),
        User.id != escalator_id,
    )


async def seniors_to_page(db: AsyncSession, account_id: uuid.UUID, escalator_id: uuid.UUID) -> Sequence[User]:
    """The seniors an escalation (or its reminder) goes to, by email."""
    query = select(User).where(pageable(account_id, escalator_id)).order_by(User.email)
    return (await db.execute(query)).scalars().all()


def active_senior(account_id: uuid.UUID | SQLColumnExpression[uuid.UUID]) -> ColumnElement[bool]:
    """Those who may be on call in the account's rotations: its active seniors (never viewers, nor the departed)."""
    users = table_of(User).c  # plain Core: it is in the statements every escalation step runs
    return and_(
        users.account_id == account_id,
        users.active.is_(True),
        users.deleted_at.is_(None),
        users.role.in_(SENIOR_ROLES),
    )


async def active_seniors(db: AsyncSession, account_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """The account's active seniors as the directory holds them now, id to name."""
    rows = await db.execute(select(User.id, User.name).where(active_senior(account_id)))
    return {user_id: name for user_id, name in rows.all()}


def may_be_nudged(claimer: User) -> bool:
    """Whether the senior holding a claim gone quiet is still there to be reminded of it."""
    return claimer.active


# --- who each escalation step pages -------------------------------------------------------------------

ALL_SENIORS = "all_seniors"
FALLBACK = "fallback"


class Page(NamedTuple):
    """One senior a step pages, and why (`rotation:<name>`, `override:<name>`, `user`, `all_seniors`, `fallback`)."""

    user_id: uuid.UUID
    reason: str


class OnCallFacts(NamedTuple):
    """A rotation's answer at the instant a step fires: who (None: nobody) and whether by `turn` or `override`."""

    user_id: uuid.UUID | None
    source: str | None


def step_pages(
    notify: Sequence[str],
    on_call: dict[str, OnCallFacts],
    eligible: Sequence[uuid.UUID],
    already: Collection[uuid.UUID],
) -> list[Page]:
    """Whom a step with these targets pages now: each eligible senior once, never one paged before.

    `eligible` are those who may be paged for the escalation at this instant (see `pageable`: never the
    escalator, a viewer or an inactive user), in the order to page them; a target naming anyone else
    pages nobody. The first target naming a senior gives the reason.
    """
    allowed = set(eligible)
    chosen: dict[uuid.UUID, str] = {}

    def add(user_id: uuid.UUID | None, reason: str) -> None:
        if user_id is not None and user_id in allowed and user_id not in already and user_id not in chosen:
            chosen[user_id] = reason

    for target in notify:
        if target == ALL_SENIORS:
            for user_id in eligible:
                add(user_id, ALL_SENIORS)
        elif target.startswith("rotation:"):
            name = target.removeprefix("rotation:")
            answer = on_call.get(name)
            if answer is not None:
                add(answer.user_id, f"{'override' if answer.source == 'override' else 'rotation'}:{name}")
        elif target.startswith("user:"):
            try:
                add(uuid.UUID(target.removeprefix("user:")), "user")
            except ValueError:
                continue  # a saved policy was checked; a malformed id names nobody
    return [Page(user_id, reason) for user_id, reason in chosen.items()]


def fallback_pages(eligible: Sequence[uuid.UUID]) -> list[Page]:
    """When every step has passed and nobody was ever paged: every eligible senior."""
    return [Page(user_id, FALLBACK) for user_id in eligible]
