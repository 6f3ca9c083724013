"""`/pick-up/{token}`: the page an email's pick-up link opens, and its one button.

No Authorization: the link names its senior. GET and HEAD only read (mail scanners open every link, and
some run scripts); only a POST claims, through the API's own claim. Every request is logged once, with the
link's id (never its token), the method, the outcome, the user agent and the client's address, so an
operator can tell a scanner from a person.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from services.handoff_api import pick_up_pages as pages
from services.handoff_api.dependencies import ApiContext
from services.handoff_api.edge import client_method
from shared.clock import utcnow
from shared.db.uow import read_only, unit_of_work
from shared.errors import (
    CannotClaimOwnHandoff,
    Forbidden,
    HandoffAlreadyClaimed,
    HandoffNotClaimable,
    LinkNotFound,
    NotFound,
)
from shared.handoffs.schemas import HandoffStatus
from shared.pickup.service import OpenedLink, open_link, press_link

log = logging.getLogger("handoff.pickup")
MAX_USER_AGENT_CHARS = 300


def _answer(page: pages.Page) -> Response[bytes]:
    return Response(page.body, status_code=page.status, media_type="text/html", headers=pages.HEADERS)


def _logged(
    request: Request[Any, Any, Any],
    outcome: str,
    *,
    link_id: uuid.UUID | None = None,
    handoff_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> None:
    method = client_method(request.scope)
    fields: dict[str, Any] = {
        "link_id": str(link_id) if link_id else None,
        "handoff_id": str(handoff_id) if handoff_id else None,
        "method": method,
        "outcome": outcome,
        "user_agent": request.headers.get("user-agent", "")[:MAX_USER_AGENT_CHARS],
        "client": request.client.host if request.client else None,
    }
    if reason is not None:
        fields["reason"] = reason
    event = "pick-up link pressed" if method == "POST" else "pick-up link opened"
    log.info(event, extra=fields)


def _not_found(request: Request[Any, Any, Any], context: ApiContext, exc: LinkNotFound) -> Response[bytes]:
    _logged(request, "not_found", link_id=exc.link_id, handoff_id=exc.handoff_id, reason=exc.reason)
    settings = context.settings
    return _answer(pages.not_found_page(settings.public_url, settings.pick_up_link_ttl_s))


class PickUpController(Controller):
    path = "/pick-up"
    include_in_schema = False

    @get("/{token:str}", operation_id="openPickUpLink")
    async def open(
        self, request: Request[Any, Any, Any], api_context: NamedDependency[ApiContext], token: FromPath[str]
    ) -> Response[bytes]:
        """The escalation and one button; nothing is written, whoever opens it."""
        try:
            async with read_only(api_context.runtime.sessionmaker) as db:
                link = await open_link(db, token)
        except LinkNotFound as exc:
            return _not_found(request, api_context, exc)
        now = utcnow()
        if not link.may_pick_up:
            page, outcome = pages.no_longer_page(), "forbidden"
        elif link.status == HandoffStatus.OPEN:
            page, outcome = pages.open_page(link, f"/pick-up/{token}", now), "shown"  # a token open_link took
        else:
            page, outcome = pages.closed_page(link, api_context.settings.public_url, now), "closed"
        _logged(request, outcome, link_id=link.link_id, handoff_id=link.handoff_id)
        return _answer(page)

    @post("/{token:str}", operation_id="pressPickUpLink")
    async def press(
        self, request: Request[Any, Any, Any], api_context: NamedDependency[ApiContext], token: FromPath[str]
    ) -> Response[bytes]:
        """Claim as the link's senior, by the directory as it is now; the body is not read (the form has no fields)."""
        public_url = api_context.settings.public_url
        link: OpenedLink | None = None
        try:
            async with unit_of_work(api_context.runtime.sessionmaker) as db:
                link = await open_link(db, token)
                await press_link(db, link)
        except LinkNotFound as exc:
            return _not_found(request, api_context, exc)
        except HandoffAlreadyClaimed as exc:
            assert link is not None
            page, outcome = pages.already_page(link, exc.winner_name, exc.claimed_at, utcnow()), "already_picked_up"
        except HandoffNotClaimable:
            assert link is not None
            page, outcome = pages.withdrawn_page(link), "withdrawn"
        except (Forbidden, CannotClaimOwnHandoff, NotFound):
            assert link is not None
            page, outcome = pages.no_longer_page(), "forbidden"
        else:
            page, outcome = pages.yours_page(link, public_url), "picked_up"
        _logged(request, outcome, link_id=link.link_id, handoff_id=link.handoff_id)
        return _answer(page)
