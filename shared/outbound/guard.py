"""The outbound guard: a tenant-configured target (PSA, webhook) must be a public https host.

`OutboundPolicy.check_url` refuses a URL when it is saved; `outbound_client` builds the only HTTP client the
notifier may use for such targets. That client resolves each host itself, refuses the connection unless every
address is public (or the host is exempt), and dials exactly the address it checked, so a DNS answer that
changes between the check and the connection (rebinding) cannot aim it elsewhere. TLS still verifies the
certificate against the host name. Redirects are never followed, and no proxy from the environment is used.

An allow-list (`HANDOFF_OUTBOUND_ALLOW`, widened per account) exempts a host written in a URL, never where a
name resolves to: a CIDR exempts the literal addresses inside it, a host name exempts only itself. So a name
that resolves into an allowed network is still refused, and `localhost` is not `127.0.0.1`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpcore
import httpx

from shared.config import ConfigError
from shared.errors import UnsafeTarget
from shared.outbound.httpx_private import BackendTransport

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


def _networks(*specs: tuple[str, str]) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]:
    return tuple((ipaddress.ip_network(cidr), reason) for cidr, reason in specs)


# Checked in order; the first match names the reason. Metadata first, so 169.254.169.254 says so.
_REFUSED = _networks(
    ("169.254.169.254/32", "cloud metadata"),
    ("168.63.129.16/32", "cloud metadata"),  # Azure's host agent: a public address, internal to the cloud
    ("100.100.100.200/32", "cloud metadata"),  # Alibaba
    ("fd00:ec2::254/128", "cloud metadata"),  # AWS over IPv6
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "private"),  # carrier-grade NAT
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "reserved"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved"),
    ("198.51.100.0/24", "reserved"),
    ("203.0.113.0/24", "reserved"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # and 255.255.255.255
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "reserved"),  # IPv4-compatible, deprecated
    ("64:ff9b:1::/48", "private"),  # local-use NAT64
    ("100::/64", "reserved"),
    ("2001::/23", "reserved"),  # Teredo and IETF assignments
    ("2001:db8::/32", "reserved"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "link-local"),  # site-local, deprecated
    ("ff00::/8", "multicast"),
)
CLOUD_METADATA = tuple(network for network, reason in _REFUSED if reason == "cloud metadata")
# IPv6 forms that carry an IPv4 address, which `refusal` judges by the address they carry.
IPV4_CARRIERS = tuple(ipaddress.ip_network(cidr) for cidr in ("::ffff:0:0/96", "64:ff9b::/96", "2002::/16"))
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"[0-9][0-9a-fA-FxX.]*")  # 2130706433, 0177.0.0.1, 0x7f.1: what inet_aton reads


def refusal(address: IPAddress) -> str | None:
    """Why `address` is not a public one ("loopback", "private", ...), or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal(embedded)
    for network, reason in _REFUSED:
        if address in network:
            return reason
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST_V6:
        return "reserved"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, in any form a resolver would accept (decimal, octal, hex IPv4)."""
    bare = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """Every address the system resolver gives for `host` (an empty list when it gives none)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


HOST_NAME = re.compile(
    r"(?=.{1,253}\.?$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?", re.I
)


class OutboundPolicy:
    """Which targets the service may send to: public https hosts, and whatever the allow-list names."""

    def __init__(self, allow: Iterable[str] = (), *, resolver: Resolver = system_resolver) -> None:
        self.resolver = resolver
        self.allowed_hosts: set[str] = set()
        self.allowed_networks: list[IPNetwork] = []
        for entry in (item.strip() for item in allow):
            if entry and not self._allow(entry):
                raise ConfigError(
                    f"HANDOFF_OUTBOUND_ALLOW holds {entry[:60]!r}, which is neither a host name nor a CIDR"
                )

    @classmethod
    def from_allow_list(cls, allow: str, *, resolver: Resolver = system_resolver) -> OutboundPolicy:
        """The policy for a comma-separated `HANDOFF_OUTBOUND_ALLOW` value."""
        return cls(allow.split(","), resolver=resolver)

    def widened(self, hosts: Iterable[str] = (), cidrs: Iterable[str] = ()) -> OutboundPolicy:
        """This policy plus an account's own exemptions (already validated); this policy is left as it is."""
        policy = OutboundPolicy(resolver=self.resolver)
        policy.allowed_hosts = set(self.allowed_hosts)
        policy.allowed_networks = list(self.allowed_networks)
        for entry in (*hosts, *cidrs):
            if not policy._allow(entry):
                raise ValueError(f"{entry[:60]!r} is neither a host name nor a CIDR")
        return policy

    def _allow(self, entry: str) -> bool:
        try:
            self.allowed_networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            if not HOST_NAME.fullmatch(entry):
                return False
            self.allowed_hosts.add(_normal(entry))
        return True

    def exempt(self, host: str) -> bool:
        """True when the allow-list names `host` itself, or `host` is a literal address inside an allowed CIDR.

        Never by what a name resolves to: a name that resolves into an allowed network is not exempt.
        """
        address = literal_address(host)
        if address is not None:
            return any(address.version == net.version and address in net for net in self.allowed_networks)
        return _normal(host) in self.allowed_hosts

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The addresses `host` names or resolves to (empty when it resolves to none), unchecked."""
        literal = literal_address(host)
        if literal is not None:
            return [literal]
        found: list[IPAddress] = []
        for text in await self.resolver(host, port):
            address = literal_address(text)
            if address is not None and address not in found:
                found.append(address)
        return found

    def refused(self, host: str, addresses: Sequence[IPAddress]) -> str | None:
        """Why dialling `host` on `addresses` is refused ("a loopback address"), or None when it may go ahead."""
        if self.exempt(host):
            return None
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                return f"it is a {reason} address" if literal_address(host) else f"it resolves to a {reason} address"
        return None

    async def check_url(self, url: str, *, field: str) -> None:
        """Refuse (UnsafeTarget naming `field`) a URL that is not https to a public host, or not allowed."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise UnsafeTarget(field, "it is not a URL this service can send to") from None
        host = parsed.host
        if not host or parsed.scheme not in ("https", "http"):
            raise UnsafeTarget(field, "it must be an https URL with a host")
        if parsed.scheme == "http" and not self.exempt(host):
            raise UnsafeTarget(field, "it must use https")
        if self.exempt(host):
            return
        addresses = await self.resolve(host, parsed.port or 443)
        reason = self.refused(host, addresses) if addresses else "it does not resolve"
        if reason is None:
            return
        if literal_address(host) is None:
            # One answer whether a name is private or unknown, so PUT is no oracle of internal DNS names.
            reason = "its host does not resolve to public addresses only"
        raise UnsafeTarget(field, reason)


def _normal(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves through the policy and connects to the checked addresses only; TLS keeps the host name."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self.dialer = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.resolve(host, port)
        if not addresses:
            raise httpcore.ConnectError("the host does not resolve")  # transient: a resolver can recover
        reason = self.policy.refused(host, addresses)
        if reason is not None:
            raise UnsafeTarget("host", reason)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.dialer.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeTarget("host", "unix sockets are never a target")

    async def sleep(self, seconds: float) -> None:
        await self.dialer.sleep(seconds)


class GuardedTransport(BackendTransport):
    """An httpx transport whose every request is checked by the policy and dialled on a checked address."""

    def __init__(self, policy: OutboundPolicy, *, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(_PinnedBackend(policy), verify=verify)
        self.policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "https" and not (url.scheme == "http" and self.policy.exempt(url.host)):
            raise UnsafeTarget("url", "it must use https")
        return await super().handle_async_request(request)


def outbound_client(
    policy: OutboundPolicy, *, timeout: float = 15.0, verify: ssl.SSLContext | bool = True
) -> httpx.AsyncClient:
    """The HTTP client for tenant-configured targets: guarded, pinned, no redirects, no proxy from the environment."""
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, verify=verify), follow_redirects=False, trust_env=False, timeout=timeout
    )


class OutboundClients:
    """The notifier's guarded clients: one shared under the global allow-list, one per push for an account's own.

    An account with exemptions of its own gets a client (and connection pool) of its own for each push, so a
    connection opened under one account's exemptions never carries another account's request.
    """

    def __init__(self, policy: OutboundPolicy, *, timeout: float = 15.0, verify: ssl.SSLContext | bool = True) -> None:
        self.policy = policy
        self.timeout = timeout
        self.verify = verify
        self.shared = outbound_client(policy, timeout=timeout, verify=verify)

    @asynccontextmanager
    async def for_account(
        self, hosts: Sequence[str] = (), cidrs: Sequence[str] = ()
    ) -> AsyncIterator[httpx.AsyncClient]:
        """The client for an account whose own allow-list holds `hosts` and `cidrs`."""
        if not hosts and not cidrs:
            yield self.shared
            return
        policy = self.policy.widened(hosts, cidrs)
        async with outbound_client(policy, timeout=self.timeout, verify=self.verify) as client:
            yield client

    async def aclose(self) -> None:
        await self.shared.aclose()

    async def __aenter__(self) -> OutboundClients:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
