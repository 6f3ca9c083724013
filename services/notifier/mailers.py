"""Where email goes: an SMTP server (aiosmtplib), or .eml files under var/mail/ when none is set."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from services.notifier.channels.base import ChannelError
from services.notifier.mail_format import Unwritable, flatten
from shared.config import Settings

log = logging.getLogger("handoff.notifier")


class SendFailed(ChannelError):
    """A message was not accepted. `transient` ones (4xx, refused, timeouts) are retried; 5xx are not."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """The envelope sender and the one recipient, taken from the From and To addresses the message was built with.

    They are passed to the server explicitly, so nothing else in the message (a name, a Cc) can add a recipient.
    """
    sender: tuple[Address, ...] = message["From"].addresses if message["From"] is not None else ()
    to: tuple[Address, ...] = message["To"].addresses if message["To"] is not None else ()
    if len(sender) != 1 or len(to) != 1 or message["Cc"] is not None or message["Bcc"] is not None:
        raise SendFailed("a notification must have one sender and one recipient", transient=False)
    return _addr_spec(sender[0]), [_addr_spec(to[0])]


def _addr_spec(address: Address) -> str:
    return f"{address.username}@{address.domain}"


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as sent, checked to read back as written; one that cannot be is a failure for good."""
    try:
        return flatten(message)
    except Unwritable as exc:
        raise SendFailed(str(exc), transient=False) from None


class SMTPMailer:
    """Sends through HANDOFF_SMTP_HOST: STARTTLS by default, or TLS from the first byte (port 465)."""

    def __init__(
        self, settings: Settings, *, timeout_s: float = 20.0, tls_context: ssl.SSLContext | None = None
    ) -> None:
        assert settings.smtp_host
        self.settings = settings
        self.timeout_s = timeout_s
        self.tls_context = tls_context  # None: the system's trusted certificates

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        sender, recipients = envelope(message)
        data = wire_bytes(message)
        try:
            await aiosmtplib.send(
                data,
                sender=sender,
                recipients=recipients,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                use_tls=s.smtp_implicit_tls,
                start_tls=False if s.smtp_implicit_tls else s.smtp_starttls,
                tls_context=self.tls_context,
                timeout=self.timeout_s,
            )
        # The reasons recorded are codes and words of ours: never the server's own text.
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise SendFailed(
                f"recipient refused ({', '.join(map(str, codes))})", transient=all(400 <= c < 500 for c in codes)
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            kind = "try again later" if 400 <= exc.code < 500 else "refused"
            raise SendFailed(f"SMTP {exc.code} ({kind})", transient=400 <= exc.code < 500) from exc
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"SMTP unavailable ({type(exc).__name__})", transient=True) from exc


class MailDropMailer:
    """For a laptop or a demo: each message becomes an .eml file you can open in a mail client."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> None:
        handoff_id = re.sub(r"[^A-Za-z0-9-]+", "_", str(message["X-Handoff-Id"]))
        _, [recipient] = envelope(message)
        to = re.sub(r"[^A-Za-z0-9@._-]+", "_", recipient)
        path = self.directory / handoff_id / f"{to}.eml"
        await asyncio.to_thread(self._write, path, wire_bytes(message))
        log.info("email for %s written to %s (no HANDOFF_SMTP_HOST set)", recipient, path)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def build_mailer(settings: Settings, *, mail_dir: Path = Path("var/mail")) -> Mailer:
    return SMTPMailer(settings) if settings.smtp_host else MailDropMailer(mail_dir)
