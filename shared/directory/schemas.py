"""Directory bodies on the wire."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

from shared.input_rules import require_one_line

DirectoryRole = Literal["owner", "admin", "engineer", "viewer"]


class UserPut(msgspec.Struct, kw_only=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    role: DirectoryRole
    active: bool = True
    # The main application may move a user to another account only by saying so.
    move: bool = False

    def __post_init__(self) -> None:
        require_one_line("email", self.email)
        require_one_line("name", self.name)


class DirectoryNotice(msgspec.Struct, kw_only=True):
    """Tells every API replica that a user changed, so their open streams follow the directory."""

    type: str
    account_id: uuid.UUID
    user_id: uuid.UUID
    may_stream: bool


class UserOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    account_id: uuid.UUID
    email: str
    name: str
    role: DirectoryRole
    active: bool
    deleted_at: str | None


class MemberOut(msgspec.Struct, kw_only=True):
    """A user as the account's members see them; `email` only for those who run the account."""

    id: uuid.UUID
    name: str
    role: DirectoryRole
    active: bool
    email: str | msgspec.UnsetType = msgspec.UNSET


class MemberList(msgspec.Struct, kw_only=True):
    items: list[MemberOut]
