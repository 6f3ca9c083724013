"""Domain errors. Each carries what a client needs; the API maps them to status codes in one place."""

from __future__ import annotations

import uuid
from datetime import datetime


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "domain_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    code = "not_found"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")


class LinkNotFound(NotFound):
    """A pick-up token that is malformed, unknown or expired; an expired one names its link and handoff."""

    def __init__(self, reason: str, link_id: uuid.UUID | None = None, handoff_id: uuid.UUID | None = None) -> None:
        super().__init__("pick-up link")
        self.reason = reason  # "malformed", "unknown" or "expired"
        self.link_id = link_id
        self.handoff_id = handoff_id


class Forbidden(DomainError):
    code = "forbidden"


class InvalidInput(DomainError):
    """Input that passed decoding but breaks a rule the schema cannot express."""

    code = "validation_error"


class InvalidField(InvalidInput):
    """A value that breaks a rule; `field` is its path in the body, e.g. `rotations[0].members[2]`."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field


class SessionNotActive(DomainError):
    code = "session_not_active"

    def __init__(self, status: str) -> None:
        super().__init__(f"the session is {status}; only an active session can be handed off")
        self.status = status


class SessionMessageLimit(DomainError):
    code = "session_message_limit"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the session already holds {limit} messages, the most one session may hold")
        self.limit = limit


class HandoffAlreadyClaimed(DomainError):
    code = "handoff_already_claimed"

    def __init__(self, winner_id: uuid.UUID, winner_name: str, claimed_at: datetime) -> None:
        super().__init__(f"already claimed by {winner_name}")
        self.winner_id = winner_id
        self.winner_name = winner_name
        self.claimed_at = claimed_at


class HandoffNotClaimable(DomainError):
    code = "handoff_not_claimable"


class CannotClaimOwnHandoff(DomainError):
    code = "cannot_claim_own_handoff"

    def __init__(self) -> None:
        super().__init__("you escalated this session; withdraw it instead of claiming it")


class HandoffActionNotAllowed(DomainError):
    """Resume of an escalation, withdraw of a park, or either on a closed handoff."""

    code = "handoff_action_not_allowed"


class UserInOtherAccount(DomainError):
    """A directory PUT names a user who lives in another account, without saying to move them."""

    code = "user_in_other_account"

    def __init__(self) -> None:
        super().__init__('the user belongs to another account; send "move": true to move them')


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, retry_after_s: int, what: str = "too many changes in a minute") -> None:
        super().__init__(f"{what}; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class LastOwner(DomainError):
    """The change would leave the account without an active owner."""

    code = "last_owner"

    def __init__(self) -> None:
        super().__init__("this is the account's last active owner; make another user an owner first")


class UnsafeTarget(DomainError):
    """A tenant-configured target (PSA, webhook) that is not a public https host, nor on the allow-list."""

    code = "unsafe_target"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field} is not a safe target: {reason}")
        self.field = field
        self.reason = reason
