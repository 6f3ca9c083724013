"""Pick-up links as a senior finds them: read from the emails the SMTP server received, never from our code."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from shared.bootstrap import Runtime
from shared.pickup.links import PickUpLinks
from tests.support.email_jobs import email_job
from tests.support.smtp import Received, SMTPServer
from tests.support.tenants import Tenant, TenantFactory

# What a link looks like to a reader: any URL whose path is /pick-up/<something>.
_IN_TEXT = re.compile(r"https?://\S+/pick-up/\S+")


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href and "/pick-up/" in href:
            self.hrefs.append(href)


def links_in_text(mail: Received) -> list[str]:
    return _IN_TEXT.findall(mail.text())


def links_in_html(mail: Received) -> list[str]:
    parser = _Hrefs()
    parser.feed(mail.html())
    return parser.hrefs


def pick_up_link(mail: Received) -> str:
    """The one pick-up link of an email, the same in both parts (the test fails otherwise)."""
    in_text, in_html = links_in_text(mail), links_in_html(mail)
    assert len(in_text) == 1, in_text
    assert in_html == in_text, (in_html, in_text)
    return in_text[0]


def token_of(link: str) -> str:
    return urlsplit(link).path.removeprefix("/pick-up/")


def path_of(link: str) -> str:
    return urlsplit(link).path


async def emails_for(
    runtime: Runtime, smtp: SMTPServer, handoff_id: str, *, round: int = 0, links: PickUpLinks | None = None
) -> dict[str, Received]:
    """Run the `notify` job for one round of a handoff; the copies the SMTP server received, by recipient key
    (`sam` for `sam-1a2b3c4d@msp.test`, as `TenantFactory.add_user` names addresses)."""
    before = len(smtp.catcher.received)
    job = email_job(runtime, smtp.port, timeout_s=5, links=links)
    await job({"handoff_id": handoff_id, "round": round})
    return {mail.to.split("-", 1)[0]: mail for mail in smtp.catcher.received[before:]}


async def emailed_links(runtime: Runtime, smtp: SMTPServer, handoff_id: str, **kwargs: Any) -> dict[str, str]:
    """Each senior's pick-up link, as their email of that round carried it."""
    return {key: pick_up_link(mail) for key, mail in (await emails_for(runtime, smtp, handoff_id, **kwargs)).items()}


async def escalated(tenant: Tenant, title: str = "VPN tunnel to Leeds keeps dropping") -> str:
    """The id of a new escalation by the account's junior."""
    junior = tenant["junior"]
    return str((await junior.escalate((await junior.new_session(title))["id"]))["id"])


class SamsLink(NamedTuple):
    tenant: Tenant  # a junior and one senior, Sam
    handoff_id: str
    path: str  # of the pick-up link in Sam's email


async def sams_link(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, title: str | None = None, **kwargs: Any
) -> SamsLink:
    """A junior's escalation in an account of its own, and the pick-up link Sam's email carried (`kwargs` go to
    `emailed_links`)."""
    tenant = await tenants.create(junior="engineer", sam="engineer")
    handoff_id = await (escalated(tenant) if title is None else escalated(tenant, title))
    return SamsLink(tenant, handoff_id, path_of((await emailed_links(runtime, smtp, handoff_id, **kwargs))["sam"]))
