"""The outbound guard's verdicts: which URLs a tenant may aim the service at, with the system's own resolver."""

from __future__ import annotations

import pytest

from shared.config import ConfigError
from shared.errors import UnsafeTarget
from shared.integrations.outbound import OutboundPolicy

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
