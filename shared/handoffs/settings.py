"""What an escalation reads of its account before it writes anything, in one statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import msgspec
from sqlalchemy import BindParameter, Uuid, bindparam, exists, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.chat.tables import ChatDestinationRow
from shared.oncall.resolution import OnCallDocument
from shared.oncall.schemas import OnCall
from shared.oncall.tables import OnCallRow
from shared.oncall.validation import read_document
from shared.policy.schemas import EscalationPolicy
from shared.policy.service import POLICY_COLUMNS, policy_from_columns
from shared.policy.tables import EscalationPolicyRow


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    """What an escalation reads of its account before it writes anything: the policy, the on-call document, and
    whether the account has an enabled chat destination."""

    policy: EscalationPolicy
    on_call: OnCallDocument
    chat_destinations: bool


_ACCOUNT: BindParameter[uuid.UUID] = bindparam("account_id", type_=Uuid())
_ONE_ROW = select(literal(1).label("one")).subquery("one_row")
# One statement whatever the account has saved: each table joins the single row or leaves its columns NULL.
_SETTINGS = (
    select(
        *POLICY_COLUMNS,
        OnCallRow.document,
        exists()
        .where(ChatDestinationRow.account_id == _ACCOUNT, ChatDestinationRow.enabled.is_(True))
        .label("chat_destinations"),
    )
    .select_from(_ONE_ROW)
    .outerjoin(EscalationPolicyRow, EscalationPolicyRow.account_id == _ACCOUNT)
    .outerjoin(OnCallRow, OnCallRow.account_id == _ACCOUNT)
)


async def escalation_settings(db: AsyncSession, account_id: uuid.UUID) -> EscalationSettings:
    """The account's policy, on-call document and chat destinations as they are now, in one statement."""
    row = (await db.execute(_SETTINGS, {"account_id": account_id})).one()
    *policy, document, chat_destinations = row
    return EscalationSettings(
        policy=policy_from_columns(*policy),
        on_call=OnCallDocument() if document is None else read_document(msgspec.convert(document, OnCall)),
        chat_destinations=bool(chat_destinations),
    )
