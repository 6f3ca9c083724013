"""PSA connection bodies on the wire."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

PSAProvider = Literal["connectwise", "autotask", "halopsa", "webhook"]

# The credentials each provider needs (API.md, Integrations).
REQUIRED_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "connectwise": ("company_id", "public_key", "private_key", "client_id"),
    "autotask": ("integration_code", "username", "secret"),
    "halopsa": ("auth_url", "client_id", "client_secret"),
    "webhook": ("signing_secret",),
}


class PSAConnectionPut(msgspec.Struct, kw_only=True):
    provider: PSAProvider
    base_url: Annotated[str, msgspec.Meta(min_length=8, max_length=500, pattern=r"^https?://\S+$")]
    credentials: dict[str, Any]
    enabled: bool = True


class PSAConnectionOut(msgspec.Struct, kw_only=True):
    provider: PSAProvider
    base_url: str
    enabled: bool
    credentials_set: bool
