"""Who is calling: the identity every domain function is given."""

from __future__ import annotations

import uuid
from typing import Literal

import msgspec

Role = Literal["owner", "admin", "engineer", "viewer", "service"]
ROLES: frozenset[str] = frozenset({"owner", "admin", "engineer", "viewer", "service"})


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    account_id: uuid.UUID | None
    role: Role
    name: str
    email: str | None = None

    @property
    def is_service(self) -> bool:
        return self.role == "service"

    def in_account(self, account_id: uuid.UUID) -> bool:
        return self.account_id is not None and self.account_id == account_id
