"""PSA connection bodies on the wire."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from shared.input_rules import require_one_line
from shared.integrations import webhook

# What an account's connection (PUT /accounts/{id}/psa) may name: a PSA vendor, or the webhook channel.
PSAProvider = Literal["connectwise", "autotask", "halopsa", "webhook"]

# The credentials each provider needs (API.md, Integrations).
REQUIRED_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "connectwise": ("company_id", "public_key", "private_key", "client_id"),
    "autotask": ("integration_code", "username", "secret"),
    "halopsa": ("auth_url", "client_id", "client_secret"),
    webhook.PROVIDER: webhook.REQUIRED_CREDENTIALS,
}


class PSAConnectionPut(msgspec.Struct, kw_only=True):
    provider: PSAProvider
    base_url: Annotated[str, msgspec.Meta(min_length=8, max_length=500, pattern=r"^https?://\S+$")]
    credentials: dict[str, Any]
    enabled: bool = True

    def __post_init__(self) -> None:
        require_one_line("base_url", self.base_url)
        for key, value in self.credentials.items():
            require_one_line("a key of credentials", key)
            # A secret or an id, never free text; a list holds several (webhook secrets being rotated).
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    require_one_line(f"credentials.{key[:64]}", item)


class PSAConnectionOut(msgspec.Struct, kw_only=True):
    provider: PSAProvider
    base_url: str
    enabled: bool
    credentials_set: bool


MAX_ALLOW_ENTRIES = 20
AllowEntry = Annotated[str, msgspec.Meta(min_length=1, max_length=253)]


class OutboundAllowList(msgspec.Struct, kw_only=True):
    """Hosts and CIDRs exempt from the outbound guard for one account alone (API.md, Outbound safety)."""

    hosts: Annotated[list[AllowEntry], msgspec.Meta(max_length=MAX_ALLOW_ENTRIES)] = []
    cidrs: Annotated[list[AllowEntry], msgspec.Meta(max_length=MAX_ALLOW_ENTRIES)] = []
