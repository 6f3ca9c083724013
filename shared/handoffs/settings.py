"""What an escalation, or a claim, reads of its account before it writes anything: one statement each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import BindParameter, Uuid, bindparam, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.chat.tables import ChatDestinationRow
from shared.db.base import table_of
from shared.oncall.resolution import OnCallDocument
from shared.oncall.service import DOCUMENT_UNLESS_HELD, DOCUMENTS
from shared.oncall.tables import OnCallRow
from shared.policy.schemas import EscalationPolicy
from shared.policy.service import POLICY_COLUMNS, policy_from_columns
from shared.policy.tables import EscalationPolicyRow
from shared.sessions.tables import SessionMessage


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    """What an escalation reads of its account before it writes anything: the policy, the on-call document, and
    whether the account has an enabled chat destination."""

    policy: EscalationPolicy
    on_call: OnCallDocument
    chat_destinations: bool


_ACCOUNT: BindParameter[uuid.UUID] = bindparam("account_id", type_=Uuid())
_ONE_ROW = select(literal(1).label("one")).subquery("one_row")
_POLICIES = table_of(EscalationPolicyRow)
_ON_CALL = table_of(OnCallRow)
_DESTINATIONS = table_of(ChatDestinationRow).c
_CHAT_DESTINATIONS = exists().where(_DESTINATIONS.account_id == _ACCOUNT, _DESTINATIONS.enabled.is_(True)).label("chat")
# One statement whatever the account has saved: each table joins the single row or leaves its columns NULL.
_SETTINGS = (
    select(
        *POLICY_COLUMNS,
        _ON_CALL.c.updated_at,
        DOCUMENT_UNLESS_HELD,
        _CHAT_DESTINATIONS,
    )
    .select_from(_ONE_ROW)
    .outerjoin(_POLICIES, _POLICIES.c.account_id == _ACCOUNT)
    .outerjoin(_ON_CALL, _ON_CALL.c.account_id == _ACCOUNT)
)


async def escalation_settings(db: AsyncSession, account_id: uuid.UUID) -> EscalationSettings:
    """The account's policy, on-call document and chat destinations as they are now, in one statement."""
    held, params = DOCUMENTS.bound(account_id)
    row = (await db.execute(_SETTINGS, params)).one()
    *policy, saved_at, document, chat_destinations = row
    return EscalationSettings(
        policy=policy_from_columns(*policy),
        on_call=DOCUMENTS.read(account_id, held, saved_at, document),
        chat_destinations=bool(chat_destinations),
    )


@dataclass(frozen=True, slots=True)
class ClaimSettings:
    """What a claim reads before it writes: the policy (the stale-claim check), whether the account has an enabled
    chat destination (the "picked up" post), and the session's newest message when the claim is made."""

    policy: EscalationPolicy
    chat_destinations: bool
    newest_message_id: int | None


_MESSAGES = table_of(SessionMessage).c
_CLAIM_SETTINGS = (
    select(
        *POLICY_COLUMNS,
        _CHAT_DESTINATIONS,
        select(func.max(_MESSAGES.id))
        .where(_MESSAGES.session_id == bindparam("session_id"))
        .scalar_subquery()
        .label("newest_message_id"),
    )
    .select_from(_ONE_ROW)
    .outerjoin(_POLICIES, _POLICIES.c.account_id == _ACCOUNT)
)


async def claim_settings(db: AsyncSession, account_id: uuid.UUID, session_id: uuid.UUID) -> ClaimSettings:
    """The account's policy and chat destinations, and the session's newest message, in one statement."""
    row = (await db.execute(_CLAIM_SETTINGS, {"account_id": account_id, "session_id": session_id})).one()
    *policy, chat_destinations, newest_message_id = row
    return ClaimSettings(
        policy=policy_from_columns(*policy),
        chat_destinations=bool(chat_destinations),
        newest_message_id=newest_message_id,
    )
