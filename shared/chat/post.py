"""One post to one chat destination: at the destination's pace, through the outbound guard, its answer classified.

What comes back names the far end's status and at most how long it asked us to wait: never its body, never the
URL. Any 2xx is sent (Teams answers 202, Slack 200 `ok`); 429 and 5xx may pass, and their Retry-After (seconds or
an HTTP date, at most 5 minutes) pushes the destination's next slot out; any other answer is final.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from shared.chat.message import ChatNotice
from shared.chat.schemas import ChatTestResult
from shared.chat.service import UNOPENED, Destination
from shared.chat.vendors import VENDORS, ChatVendor
from shared.errors import UnsafeTarget
from shared.pace import Pace, pace_key, wait_to_start

log = logging.getLogger("handoff.chat")
MAX_RETRY_AFTER_S = 300.0
RETRY_AFTER_429_S = 5.0  # a 429 that says nothing of when to come back
# A post holds its destination until it is answered; should its worker die, the hold ends after this long.
HOLD_S = 30.0
MAX_ANSWER_BYTES = 65536  # read of an answer, so a short one leaves the connection for the next post
_TRANSIENT = frozenset({408, 425, 429})


@dataclass(frozen=True)
class PostOutcome:
    sent: bool
    http_status: int | None  # the far end's answer; None when none came (refused, timed out, not attempted)
    detail: str  # "slack: post answered HTTP 404": never a URL or the far end's words
    transient: bool = False  # may pass: try again later
    retry_after_s: float | None = None  # how long the far end (or the pace) asks us to wait
    attempted: bool = True  # False when the pace had no slot soon enough and nothing was sent


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After value (delay-seconds or an HTTP date), between 0 and 5 minutes; None if unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


async def post(
    http: httpx.AsyncClient, pace: Pace, vendor: ChatVendor, url: str, body: bytes, *, max_wait_s: float
) -> PostOutcome:
    """Wait until the destination's pace lets a post start (no longer than `max_wait_s`), then post `body` once."""
    key, token = pace_key(url), secrets.token_hex(8)
    still = await wait_to_start(pace, key, token, hold_s=HOLD_S, max_wait_s=max_wait_s)
    if still is not None:
        return PostOutcome(
            sent=False,
            http_status=None,
            detail=f"{vendor.kind}: the destination's pace lets the next post start in {still:.0f} s",
            transient=True,
            retry_after_s=still,
            attempted=False,
        )
    outcome: PostOutcome | None = None
    try:
        outcome = await _send(http, vendor, url, body)
    finally:
        asked = outcome.retry_after_s if outcome is not None else None
        await pace.finish(key, token, max(vendor.interval_s, asked or 0.0))
    return outcome


async def _send(http: httpx.AsyncClient, vendor: ChatVendor, url: str, body: bytes) -> PostOutcome:
    kind = vendor.kind
    headers = {"Content-Type": "application/json; charset=utf-8"}
    try:
        # Streamed: what the far end says is read (a little of it, to keep the connection) and never kept.
        async with http.stream("POST", url, content=body, headers=headers) as response:
            status = response.status_code
            asked = retry_after(response.headers.get("retry-after"))
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > MAX_ANSWER_BYTES:
                    break
    except UnsafeTarget:
        log.warning("%s: post refused: unsafe target", kind)
        return PostOutcome(sent=False, http_status=None, detail=f"{kind}: post refused: unsafe target")
    except httpx.TimeoutException:
        return PostOutcome(sent=False, http_status=None, detail=f"{kind}: post timed out", transient=True)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        return PostOutcome(sent=False, http_status=None, detail=f"{kind}: post has an unusable URL")
    except httpx.TransportError as exc:
        detail = f"{kind}: post failed ({type(exc).__name__})"
        return PostOutcome(sent=False, http_status=None, detail=detail, transient=True)
    if 200 <= status < 300:
        return PostOutcome(sent=True, http_status=status, detail=f"{kind}: post answered HTTP {status}")
    detail = f"{kind}: post answered HTTP {status}"
    log.warning("%s", detail)
    if status >= 500 or status in _TRANSIENT:
        if status == 429 and asked is None:
            asked = RETRY_AFTER_429_S
        return PostOutcome(sent=False, http_status=status, detail=detail, transient=True, retry_after_s=asked)
    return PostOutcome(sent=False, http_status=status, detail=detail)


TEST_MAX_WAIT_S = 10.0  # a test post waits no longer than this for the destination's next slot


async def send_test_post(
    http: httpx.AsyncClient, pace: Pace, destination: Destination, *, dashboard_url: str
) -> ChatTestResult:
    """Post a test message to `destination` now, enabled or not, as escalation posts go; how the far end answered."""
    vendor = VENDORS[destination.kind]
    if not destination.url:
        kind, label = destination.kind, destination.label
        return ChatTestResult(label=label, kind=kind, sent=False, http_status=None, detail=f"{kind}: {UNOPENED}")
    notice = ChatNotice(
        headline="Test post from the handoff service",
        title=f"Escalations will be posted to {destination.label} like this.",
        link=dashboard_url,
        link_text="Open the dashboard",
    )
    outcome = await post(http, pace, vendor, destination.url, vendor.body(notice), max_wait_s=TEST_MAX_WAIT_S)
    if outcome.sent:
        detail = f"{destination.kind}: post answered HTTP {outcome.http_status}"
    elif not outcome.attempted:
        detail = f"{outcome.detail}; nothing was posted, try again then"
    else:
        detail = outcome.detail
    return ChatTestResult(
        label=destination.label,
        kind=destination.kind,
        sent=outcome.sent,
        http_status=outcome.http_status,
        detail=detail,
    )
