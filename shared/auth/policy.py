"""Who may do what: every permission rule and its message, called by the API's guards and the domain alike."""

from __future__ import annotations

import uuid

from shared.auth.principal import Principal
from shared.errors import Forbidden, NotFound


def require_member(principal: Principal) -> uuid.UUID:
    """The caller's account; service tokens act on no account's sessions."""
    if principal.account_id is None:
        raise Forbidden("this call needs a user of an account")
    return principal.account_id


def require_senior(principal: Principal) -> uuid.UUID:
    """An engineer, admin or owner of an account: the people an escalation goes to."""
    account_id = require_member(principal)
    if not principal.is_senior:
        raise Forbidden("only engineers, admins and owners may do this")
    return account_id


def require_account_manager(principal: Principal, account_id: uuid.UUID | None = None) -> None:
    """The main application (`service`), or an owner or admin of that very account.

    Without `account_id` only the role is checked (the API's guard); the domain passes the account.
    """
    if principal.is_service:
        return
    if not principal.is_account_admin:
        raise Forbidden("only the main application or an owner or admin of the account may do this")
    if account_id is not None and not principal.in_account(account_id):
        raise NotFound("account")


def require_service(principal: Principal) -> None:
    """The main application only: what widens an account's reach beyond what its own admins may decide."""
    if not principal.is_service:
        raise Forbidden("only the main application may do this")


def require_session_engineer(principal: Principal, engineer_id: uuid.UUID) -> None:
    """Only the session's current engineer writes to it."""
    if engineer_id != principal.user_id:
        raise Forbidden("only the session's current engineer can add messages")


def require_may_hand_off(principal: Principal, engineer_id: uuid.UUID, *, park: bool) -> None:
    """The session's engineer hands it off; an admin or owner may escalate it for them, never park it."""
    is_engineer = engineer_id == principal.user_id
    if park and not is_engineer:
        raise Forbidden("only the session's engineer can park it")
    if not (is_engineer or principal.is_account_admin):
        raise Forbidden("only the session's engineer, or an admin of the account, can hand it off")


def require_escalator(principal: Principal, created_by_id: uuid.UUID) -> None:
    if created_by_id != principal.user_id:
        raise Forbidden("only the engineer who escalated can withdraw it")
