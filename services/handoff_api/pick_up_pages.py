"""The pages behind an email's pick-up link: small, self-contained HTML, no script, every tenant string escaped.

Each page is one `<main>` with one `<h1>`; the only style is the inline sheet below, allowed by its hash in the
Content-Security-Policy, so nothing else can load, run, frame the page or take its form elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import html
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.handoffs.schemas import HandoffStatus
from shared.pickup.service import OpenedLink

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#111827;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:36rem;margin:0 auto;padding:1.5rem 1rem 2.5rem}
.card{background:#fff;border:1px solid #d1d5db;border-radius:10px;padding:1.25rem 1.25rem 1.5rem}
.eyebrow{margin:0 0 .5rem;color:#374151;font-size:.875rem}
h1{margin:0 0 .75rem;font-size:1.375rem;line-height:1.3;overflow-wrap:anywhere}
p{margin:0 0 .75rem;overflow-wrap:anywhere}
.urgency{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-weight:600;font-size:.8125rem}
.urgency-high{background:#b91c1c;color:#fff}
.urgency-normal{background:#1e40af;color:#fff}
.urgency-low{background:#e5e7eb;color:#111827}
.status{border-left:4px solid #1d4ed8;background:#eff6ff;padding:.5rem .75rem}
.status-done{border-color:#047857;background:#ecfdf5}
.status-stop{border-color:#b91c1c;background:#fef2f2}
form{margin:1.25rem 0 .75rem}
button{width:100%;min-height:48px;padding:.75rem 1rem;border:0;border-radius:8px;background:#1d4ed8;color:#fff;
font:inherit;font-weight:600;cursor:pointer;overflow-wrap:anywhere}
button:hover{background:#1e3a8a}
button:focus-visible,a:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
a{color:#1d4ed8}
time{white-space:nowrap}
.hint{color:#374151;font-size:.875rem}
@media (min-width:40rem){main{padding-top:3rem}button{width:auto}}
""".strip()
STYLE_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
# Nothing loads but the inline sheet above; the form posts only to this origin; never framed; no <base>.
CSP = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex",
}
URGENCY = {"high": "High urgency", "normal": "Normal urgency", "low": "Low urgency"}


@dataclass(frozen=True)
class Page:
    status: int
    body: bytes


def x(value: str) -> str:
    """A tenant's string as text in HTML, in content and in attribute values alike."""
    return html.escape(value, quote=True)


def absolute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ago(moment: datetime, now: datetime) -> str:
    """ "just now", "1 minute ago", "3 hours ago", "2 days ago"."""
    seconds = max(0, int((now - moment).total_seconds()))
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def when(moment: datetime, now: datetime) -> str:
    """A moment as people read it: the absolute UTC time, machine-readable too, and how long ago."""
    iso = moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return f'<time datetime="{iso}">{absolute(moment)}</time> ({ago(moment, now)})'


def document(title: str, content: str) -> bytes:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{x(title)} · Handoff</title><style>{CSS}</style></head>"
        f'<body><main><div class="card">{content}</div></main></body></html>\n'
    ).encode()


def _escalation(link: OpenedLink, now: datetime) -> str:
    """Which escalation this is: urgency, title, who escalated it and when."""
    urgency = URGENCY.get(link.urgency, link.urgency)
    return (
        f'<p class="eyebrow">Escalation · <span class="urgency urgency-{x(link.urgency)}">{x(urgency)}</span></p>'
        f"<h1>{x(link.title)}</h1>"
        f"<p>Escalated by <strong>{x(link.escalator_name)}</strong> {when(link.escalated_at, now)}.</p>"
    )


def dashboard_link(public_url: str, handoff_id: uuid.UUID) -> str:
    return f"{public_url.rstrip('/')}/#/handoffs/{handoff_id}"


def _open_in_dashboard(public_url: str, handoff_id: uuid.UUID) -> str:
    return f'<p><a href="{x(dashboard_link(public_url, handoff_id))}">Open it in the dashboard</a></p>'


def open_page(link: OpenedLink, path: str, now: datetime) -> Page:
    """The link as a scanner or a person first sees it: the escalation and one button, which posts here."""
    form = (
        f'<form method="post" action="{x(path)}">'
        f'<button type="submit">Pick up as {x(link.holder_name)}</button></form>'
        '<p class="hint">Opening this page changes nothing; only the button picks the escalation up.</p>'
    )
    return Page(200, document(f"Pick up: {link.title}", _escalation(link, now) + form))


def closed_page(link: OpenedLink, public_url: str, now: datetime) -> Page:
    """An escalation that is no longer open: who picked it up and when, or that it was withdrawn. No form."""
    if link.status == HandoffStatus.CLAIMED and link.claimed_at is not None:
        if link.claimed_by_id == link.holder_id:
            status = f'<p class="status status-done">You picked this up {when(link.claimed_at, now)}.</p>'
            status += _open_in_dashboard(public_url, link.handoff_id)
        else:
            winner = x(link.claimed_by_name or "")
            status = (
                f'<p class="status">Already picked up by <strong>{winner}</strong>, {when(link.claimed_at, now)}.</p>'
            )
    else:
        at = f" {when(link.closed_at, now)}" if link.closed_at is not None else ""
        status = f'<p class="status status-stop">Withdrawn: {x(link.escalator_name)} took it back{at}.</p>'
    return Page(200, document(link.title, _escalation(link, now) + status))


def yours_page(link: OpenedLink, public_url: str) -> Page:
    content = (
        "<h1>It's yours</h1>"
        f'<p class="status status-done">You picked up <strong>{x(link.title)}</strong>. '
        f"{x(link.escalator_name)} can see that you have it.</p>" + _open_in_dashboard(public_url, link.handoff_id)
    )
    return Page(200, document("It's yours", content))


def already_page(link: OpenedLink, winner: str, claimed_at: datetime, now: datetime) -> Page:
    content = (
        "<h1>Already picked up</h1>"
        f'<p class="status">Already picked up by <strong>{x(winner)}</strong>, {when(claimed_at, now)}.</p>'
        f"<p>{x(link.title)}</p>"
    )
    return Page(409, document(f"Already picked up by {winner}", content))


def withdrawn_page(link: OpenedLink) -> Page:
    content = (
        "<h1>Withdrawn</h1>"
        f'<p class="status status-stop">{x(link.escalator_name)} withdrew <strong>{x(link.title)}</strong>: '
        "there is nothing to pick up.</p>"
    )
    return Page(409, document("Withdrawn", content))


def no_longer_page() -> Page:
    """For a senior the directory no longer has as one: nothing of the escalation is shown."""
    content = (
        "<h1>You can no longer pick this up</h1>"
        '<p class="status status-stop">Your account is no longer an active engineer, admin or owner of this team. '
        "Ask a team admin if that is a mistake.</p>"
    )
    return Page(403, document("You can no longer pick this up", content))


def duration(seconds: int) -> str:
    """`24 hours`, `90 minutes`, `5 seconds`: the largest unit that holds it exactly."""
    size, unit = next(
        (size, unit) for size, unit in ((3600, "hour"), (60, "minute"), (1, "second")) if seconds % size == 0
    )
    count = seconds // size
    return f"{count} {unit}{'' if count == 1 else 's'}"


def not_found_page(public_url: str, ttl_s: int) -> Page:
    content = (
        "<h1>This link does not work</h1>"
        f"<p>It may have expired (a pick-up link works for {duration(ttl_s)} after its first email), "
        "or it was copied incompletely.</p>"
        f'<p><a href="{x(public_url.rstrip("/") + "/")}">Open the dashboard</a> to see the open escalations.</p>'
    )
    return Page(404, document("This link does not work", content))
