"""The outbound guard's verdicts: which URLs a tenant may aim the service at, with the system's own resolver."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from shared.config import ConfigError
from shared.errors import InvalidInput, UnsafeTarget
from shared.integrations.allow_list import cidr_entry, host_entry
from shared.integrations.service import masked_url
from shared.outbound.guard import OutboundPolicy

REFUSED = [
    # host as written in the URL, and the reason the detail gives
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("[::1]", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),  # IPv4-mapped IPv6
    ("[::ffff:7f00:1]", "loopback"),
    ("[::ffff:169.254.169.254]", "cloud metadata"),
    ("[64:ff9b::7f00:1]", "loopback"),  # NAT64 of 127.0.0.1
    ("[2002:7f00:1::1]", "loopback"),  # 6to4 of 127.0.0.1
    ("[::127.0.0.1]", "reserved"),  # IPv4-compatible
    ("0.0.0.0", "unspecified"),  # noqa: S104
    ("0", "unspecified"),
    ("[::]", "unspecified"),
    ("2130706433", "loopback"),  # decimal 127.0.0.1
    ("0x7f000001", "loopback"),
    ("0x7f.1", "loopback"),
    ("127.1", "loopback"),
    ("169.254.169.254", "cloud metadata"),
    ("[fd00:ec2::254]", "cloud metadata"),
    ("168.63.129.16", "cloud metadata"),
    ("100.100.100.200", "cloud metadata"),
    ("169.254.10.1", "link-local"),
    ("[fe80::1]", "link-local"),
    ("10.0.0.5", "private"),
    ("172.16.3.4", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "private"),
    ("[fc00::1]", "unique-local"),
    ("[fd12:3456::1]", "unique-local"),
    ("224.0.0.251", "multicast"),
    ("239.255.255.250", "multicast"),
    ("[ff02::1]", "multicast"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.10", "reserved"),
]

PUBLIC = ["1.1.1.1", "8.8.8.8", "93.184.215.14", "172.32.0.1", "[2606:4700:4700::1111]", "[2a00:1450:4001::200e]"]


@pytest.mark.parametrize(("host", "reason"), REFUSED)
async def test_non_public_addresses_are_refused_in_every_spelling(host: str, reason: str) -> None:
    with pytest.raises(UnsafeTarget) as caught:
        await OutboundPolicy().check_url(f"https://{host}/v4_6_release/apis/3.0", field="base_url")
    assert caught.value.field == "base_url"
    assert reason in caught.value.detail


@pytest.mark.parametrize("host", ["0177.0.0.1", "0177.0.0.01"])
async def test_octal_ipv4_is_refused(host: str) -> None:
    # httpx reads dotted forms strictly and refuses octal ones outright; a resolver would read them as 127.0.0.1.
    with pytest.raises(UnsafeTarget):
        await OutboundPolicy().check_url(f"https://{host}/", field="base_url")
    assert OutboundPolicy().refused(host, await OutboundPolicy().resolve(host, 443)) == "it is a loopback address"


@pytest.mark.parametrize("host", PUBLIC)
async def test_public_https_addresses_pass(host: str) -> None:
    await OutboundPolicy().check_url(f"https://{host}/api", field="base_url")


async def test_a_name_that_resolves_to_loopback_is_refused() -> None:
    with pytest.raises(UnsafeTarget) as caught:
        await OutboundPolicy().check_url("https://localhost:8000/api", field="base_url")
    assert caught.value.detail == "base_url is not a safe target: its host does not resolve to public addresses only"


@pytest.mark.parametrize("host", ["postgres", "redis", "mailpit:8025", "api:8000", "no-such-host.invalid"])
async def test_internal_or_unknown_names_get_one_answer(host: str) -> None:
    # Whether a compose name resolves here or not, the answer is the same: PUT is no DNS oracle.
    with pytest.raises(UnsafeTarget) as caught:
        await OutboundPolicy().check_url(f"https://{host}/", field="base_url")
    assert caught.value.detail.endswith("its host does not resolve to public addresses only")


@pytest.mark.parametrize(
    "url", ["http://1.1.1.1/api", "ftp://1.1.1.1/", "file:///etc/passwd", "https:///nohost", "gopher://1.1.1.1/"]
)
async def test_only_https_is_accepted(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        await OutboundPolicy().check_url(url, field="base_url")


async def test_a_name_resolving_to_mixed_addresses_is_refused() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    policy = OutboundPolicy(resolver=resolver)
    with pytest.raises(UnsafeTarget):
        await policy.check_url("https://psa.example.com/", field="base_url")
    assert policy.refused("psa.example.com", await policy.resolve("psa.example.com", 443)) == (
        "it resolves to a private address"
    )


async def test_the_allow_list_exempts_hosts_and_cidrs_and_http_to_them() -> None:
    policy = OutboundPolicy.from_allow_list("127.0.0.1, 10.20.0.0/16,psa.corp.example , fd00:1::/64")
    for url in (
        "http://127.0.0.1:8080/hooks",
        "https://127.0.0.1/hooks",
        "https://10.20.3.4/api",
        "http://10.20.3.4/api",
        "https://psa.corp.example/api",  # a listed name is exempt without being resolved
        "http://PSA.corp.example./api",
        "https://[fd00:1::5]/api",
    ):
        await policy.check_url(url, field="base_url")
    for url in ("https://127.0.0.2/", "https://10.21.0.1/", "http://1.1.1.1/", "https://[::1]/", "http://localhost/"):
        with pytest.raises(UnsafeTarget):
            await policy.check_url(url, field="base_url")


def test_a_malformed_allow_list_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="HANDOFF_OUTBOUND_ALLOW"):
        OutboundPolicy.from_allow_list("127.0.0.1,http://psa.example/")


def resolving_to(*addresses: str) -> Callable[[str, int], Awaitable[list[str]]]:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost/auth",
        "https://localhost:8443/auth",
        "http://localhost/auth",
        "https://LocalHost./auth",
        "https://psa.rebind.example/api",  # any name whose DNS answer lands in the allowed network
    ],
)
async def test_a_cidr_never_exempts_a_name_that_resolves_into_it(url: str) -> None:
    policy = OutboundPolicy(["127.0.0.1/32"], resolver=resolving_to("127.0.0.1"))
    with pytest.raises(UnsafeTarget) as caught:
        await policy.check_url(url, field="auth_url")
    assert caught.value.field == "auth_url"
    host = url.split("/")[2].rsplit(":", 1)[0]
    assert policy.exempt(host) is False
    assert policy.refused(host, await policy.resolve(host, 443)) == "it resolves to a loopback address"


async def test_a_cidr_exempts_the_literal_addresses_inside_it() -> None:
    policy = OutboundPolicy(["10.20.0.0/16", "fd00:1::/64"])
    for host in ("10.20.0.1", "10.20.255.254", "[fd00:1::5]"):
        assert policy.exempt(host)
        assert policy.refused(host, await policy.resolve(host, 443)) is None
    for host in ("10.21.0.1", "[fd00:2::5]", "[::ffff:10.20.0.1]"):
        assert not policy.exempt(host)
        assert policy.refused(host, await policy.resolve(host, 443)) is not None


async def test_a_host_name_exempts_only_itself_whatever_its_case_or_trailing_dot() -> None:
    policy = OutboundPolicy(["psa.corp.example"], resolver=resolving_to("10.1.2.3"))
    for host in ("psa.corp.example", "PSA.Corp.Example", "psa.corp.example."):
        assert policy.exempt(host)
        await policy.check_url(f"http://{host}:8080/api", field="base_url")
    for host in ("eu.psa.corp.example", "psa.corp.example.evil.test", "corp.example", "10.1.2.3"):
        assert not policy.exempt(host)
        with pytest.raises(UnsafeTarget):
            await policy.check_url(f"https://{host}/api", field="base_url")


async def test_an_accounts_exemptions_widen_a_copy_of_the_global_policy() -> None:
    global_policy = OutboundPolicy(["127.0.0.1"], resolver=resolving_to("10.1.2.3"))
    account = global_policy.widened(["psa.corp.example", "10.9.8.7"], ["192.168.50.0/24"])
    for url in ("http://127.0.0.1/", "https://psa.corp.example/", "http://10.9.8.7/", "https://192.168.50.9/"):
        await account.check_url(url, field="base_url")
    for url in ("https://psa.corp.example/", "http://10.9.8.7/", "https://192.168.50.9/"):
        with pytest.raises(UnsafeTarget):
            await global_policy.check_url(url, field="base_url")
    assert account.resolver is global_policy.resolver


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("psa.corp.example", "psa.corp.example"),
        ("PSA.Corp.Example.", "psa.corp.example"),
        ("localhost", "localhost"),
        ("10.1.2.3", "10.1.2.3"),
        ("[FD00:1::5]", "fd00:1::5"),
        ("fd00:1::5", "fd00:1::5"),
    ],
)
def test_an_allow_list_host_is_stored_in_its_canonical_form(text: str, stored: str) -> None:
    assert host_entry("hosts[0]", text) == stored


@pytest.mark.parametrize(
    "text",
    [
        "https://psa.corp.example",
        "psa.corp.example:443",
        "psa.corp.example/api",
        "user@psa.corp.example",
        "*.corp.example",
        "psa..corp.example",
        "-psa.corp.example",
        "psa_corp.example",
        "2130706433",
        "0x7f.1",
        "10.1.2.300",
        "fe80::1%eth0",
        "169.254.169.254",
        "::ffff:10.1.2.3",
        "x" * 64 + ".example",
    ],
)
def test_an_allow_list_host_that_is_not_one_host_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        host_entry("hosts[3]", text)
    assert caught.value.detail.startswith("hosts[3] ")


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("10.20.0.0/16", "10.20.0.0/16"),
        ("10.20.3.4/16", "10.20.0.0/16"),
        ("10.9.8.7", "10.9.8.7/32"),
        ("fd00:1::/64", "fd00:1::/64"),
    ],
)
def test_an_allow_list_cidr_is_stored_as_its_network(text: str, stored: str) -> None:
    assert cidr_entry("cidrs[0]", text) == stored


@pytest.mark.parametrize(
    "text",
    [
        "10.0.0.0/33",
        "10.0.0/8",
        "psa.corp.example",
        "0.0.0.0/0",
        "::/0",
        "169.254.0.0/16",
        "168.63.0.0/16",
        "fd00::/8",
        "::ffff:0:0/96",
        "2002::/16",
        "64:ff9b::/96",
    ],
)
def test_an_allow_list_cidr_that_is_no_network_or_reaches_cloud_metadata_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        cidr_entry("cidrs[1]", text)
    assert caught.value.detail.startswith("cidrs[1] ")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://psa.example.com/v4_6_release/apis/3.0", "https://psa.example.com/v4_6_release/apis/3.0"),
        ("https://user:pass@psa.example.com:8443/api", "https://***@psa.example.com:8443/api"),
        ("https://token@psa.example.com/api", "https://***@psa.example.com/api"),
        ("https://psa.example.com/hook?token=abc&x=1", "https://psa.example.com/hook?***"),
        ("https://a:b@psa.example.com/hook?token=abc#frag", "https://***@psa.example.com/hook?***#***"),
        ("https://p%40ss@psa.example.com/", "https://***@psa.example.com/"),
    ],
)
def test_a_base_url_is_shown_without_its_userinfo_and_query(url: str, shown: str) -> None:
    assert masked_url(url) == shown
