"""Where email goes: an SMTP server (aiosmtplib), or .eml files under var/mail/ when none is set."""

from __future__ import annotations

import asyncio
import logging
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from shared.config import Settings

log = logging.getLogger("handoff.notifier")


class SendFailed(Exception):
    """A message was not accepted. `transient` ones (4xx, refused, timeouts) are retried; 5xx are not."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SMTPMailer:
    def __init__(self, settings: Settings, *, timeout_s: float = 20.0) -> None:
        assert settings.smtp_host
        self.settings = settings
        self.timeout_s = timeout_s

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                start_tls=s.smtp_starttls,
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise SendFailed(
                f"recipient refused ({', '.join(map(str, codes))})", transient=all(400 <= c < 500 for c in codes)
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendFailed(f"SMTP {exc.code}: {exc.message}", transient=400 <= exc.code < 500) from exc
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"SMTP unavailable: {type(exc).__name__}: {exc}", transient=True) from exc


class MailDropMailer:
    """For a laptop or a demo: each message becomes an .eml file you can open in a mail client."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> None:
        handoff_id = str(message["X-Handoff-Id"])
        to = re.sub(r"[^A-Za-z0-9@._-]+", "_", str(message["To"]))
        path = self.directory / handoff_id / f"{to}.eml"
        await asyncio.to_thread(self._write, path, message.as_bytes())
        log.info("email for %s written to %s (no HANDOFF_SMTP_HOST set)", message["To"], path)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def build_mailer(settings: Settings, *, mail_dir: Path = Path("var/mail")) -> Mailer:
    return SMTPMailer(settings) if settings.smtp_host else MailDropMailer(mail_dir)
