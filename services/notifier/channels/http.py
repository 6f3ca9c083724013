"""How HTTP channels call the far end: one request at a time, failures classified, answers read defensively."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from services.notifier.channels.base import ChannelError
from shared.errors import UnsafeTarget

log = logging.getLogger("handoff.notifier.psa")  # the name operators filter PSA and webhook lines by

_TRANSIENT_STATUSES = frozenset({408, 425, 429})


def endpoint(base_url: str, path: str) -> str:
    """`path` under `base_url`, whether or not the base ends with a slash."""
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    provider: str,
    action: str,
    allow: frozenset[int] = frozenset(),
    **kwargs: Any,
) -> httpx.Response:
    """Make one call; failures become ChannelErrors naming the step and a status, never a credential, URL or body."""
    try:
        response = await http.request(method, url, **kwargs)
    except UnsafeTarget:
        log.warning("%s: %s refused: unsafe target", provider, action)
        raise ChannelError(f"{provider}: {action} refused: unsafe target", transient=False) from None
    except httpx.TimeoutException:
        raise ChannelError(f"{provider}: {action} timed out", transient=True) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        raise ChannelError(f"{provider}: {action} has an unusable base URL", transient=False) from None
    except httpx.TransportError as exc:
        raise ChannelError(f"{provider}: {action} failed ({type(exc).__name__})", transient=True) from None
    status = response.status_code
    if response.is_success or status in allow:
        return response
    transient = status >= 500 or status in _TRANSIENT_STATUSES
    log.warning("%s: %s answered HTTP %d", provider, action, status)
    raise ChannelError(f"{provider}: {action} answered HTTP {status}", transient=transient)


def json_of(response: httpx.Response, *, provider: str, action: str) -> Any:
    """The response's JSON body; an unreadable one is transient (a proxy's error page, a cut connection)."""
    try:
        return response.json()
    except ValueError:
        raise ChannelError(f"{provider}: {action} answered something that is not JSON", transient=True) from None


def posted_body(response: httpx.Response) -> Any:
    """The JSON answer to a post that succeeded, or None when it is unreadable."""
    # The note is posted by now: an odd answer must not become an error whose retry posts it again.
    try:
        return response.json()
    except ValueError:
        return None


def external_id(answer: Any, field: str = "id") -> str | None:
    """The vendor's id for a note: `answer[field]` as text, or None when the answer has none."""
    value = answer.get(field) if isinstance(answer, dict) else None
    return None if value is None else str(value)
