"""An account's own outbound allow-list: hosts and CIDRs its PSA or webhook may be although private.

Only `service` sets it (an account's admins must not widen what the service dials); the account's owners and
admins may read it. It widens the global `HANDOFF_OUTBOUND_ALLOW` for that account alone.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.clock import utcnow
from shared.directory.who import require_account_manager, require_service
from shared.errors import InvalidInput
from shared.integrations.schemas import OutboundAllowList
from shared.integrations.tables import OutboundAllowRow
from shared.outbound.guard import CLOUD_METADATA, HOST_NAME, IPV4_CARRIERS, IPNetwork, OutboundPolicy


async def allow_list_of(db: AsyncSession, account_id: uuid.UUID) -> OutboundAllowList:
    """The account's own exemptions; none until `service` sets some."""
    row = await db.get(OutboundAllowRow, account_id)
    if row is None:
        return OutboundAllowList()
    return OutboundAllowList(hosts=list(row.hosts), cidrs=list(row.cidrs))


async def account_policy(db: AsyncSession, policy: OutboundPolicy, account_id: uuid.UUID) -> OutboundPolicy:
    """`policy` (the global one) widened by the account's own exemptions."""
    allow = await allow_list_of(db, account_id)
    return policy.widened(allow.hosts, allow.cidrs)


async def get_outbound_allow(db: AsyncSession, principal: Principal, account_id: uuid.UUID) -> OutboundAllowList:
    require_account_manager(principal, account_id)
    return await allow_list_of(db, account_id)


async def put_outbound_allow(
    db: AsyncSession, principal: Principal, account_id: uuid.UUID, body: OutboundAllowList
) -> OutboundAllowList:
    """Replace the account's exemptions with `body`, each entry checked and written in its canonical form."""
    require_service(principal)
    hosts = _unique(host_entry(f"hosts[{index}]", text) for index, text in enumerate(body.hosts))
    cidrs = _unique(cidr_entry(f"cidrs[{index}]", text) for index, text in enumerate(body.cidrs))
    row = await db.get(OutboundAllowRow, account_id, with_for_update=True)
    if row is None:
        row = OutboundAllowRow(account_id=account_id)
        db.add(row)
    row.hosts = hosts
    row.cidrs = cidrs
    row.updated_at = utcnow()
    await db.flush()
    return OutboundAllowList(hosts=hosts, cidrs=cidrs)


def host_entry(field: str, text: str) -> str:
    """A host name (lower case, no trailing dot) or an IP address, as the allow-list stores it."""
    value = text.strip().lower()
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        name = value.rstrip(".")
        # A last label of digits only is an address in a spelling we do not take (0x7f.1, 2130706433, 10.1.2.300).
        if "%" in value or not HOST_NAME.fullmatch(value) or name.rsplit(".", 1)[-1].isdigit():
            raise InvalidInput(f"{field} must be a host name or an IP address, without scheme, port or path") from None
        return name
    if "%" in bare:
        raise InvalidInput(f"{field} must be an IP address without a zone")
    _check_network(field, ipaddress.ip_network(address))
    return str(address)


def cidr_entry(field: str, text: str) -> str:
    """A network ("10.20.0.0/16"; host bits are dropped, a bare address is its own /32 or /128)."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise InvalidInput(f"{field} must be a network such as 10.20.0.0/16 or fd00:1::/64") from None
    _check_network(field, network)
    return str(network)


def _check_network(field: str, network: IPNetwork) -> None:
    if any(network.version == carrier.version and network.overlaps(carrier) for carrier in IPV4_CARRIERS):
        raise InvalidInput(f"{field} is an IPv6 form of IPv4 addresses; write the IPv4 address or network instead")
    if any(network.version == cloud.version and network.overlaps(cloud) for cloud in CLOUD_METADATA):
        # No PSA lives there, and it is the one address that gives away the cloud's own credentials.
        raise InvalidInput(f"{field} holds a cloud metadata address, which no account may reach")


def _unique(entries: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for entry in entries:
        if entry not in seen:
            seen.append(entry)
    return seen
