"""The dashboard: a page, its static files, its service worker, and (in `handoff dev` only) the demo sign-in list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import MediaType, Response, Router, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.static_files import create_static_files_router

from services.handoff_api.dependencies import ApiContext

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard"
# Scripts and styles from this origin only, never framed, no referrer leaves with a link.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


async def with_security_headers(response: Response[Any]) -> Response[Any]:
    response.headers.update(SECURITY_HEADERS)
    return response


@get("/", include_in_schema=False, cache=False)
async def dashboard_page() -> Response[bytes]:
    page = (DASHBOARD / "index.html").read_bytes()
    return Response(page, media_type=MediaType.HTML, headers={"Cache-Control": "no-cache"})


@get("/sw.js", include_in_schema=False, cache=False)
async def service_worker() -> Response[bytes]:
    """The desktop notifications' service worker, at the root so that its scope holds the dashboard page."""
    script = (DASHBOARD / "sw.js").read_bytes()
    return Response(script, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@get("/dev/demo-users", include_in_schema=False)
async def demo_users(api_context: NamedDependency[ApiContext]) -> list[dict[str, Any]]:
    """Tokens of the seeded demo users: served by `handoff dev` only."""
    if not api_context.demo_users:
        raise NotFoundException()
    return list(api_context.demo_users)


def dashboard_router() -> Router:
    assets = create_static_files_router(
        path="/dashboard", directories=[DASHBOARD], include_in_schema=False, after_request=with_security_headers
    )
    return Router(
        path="/",
        route_handlers=[dashboard_page, service_worker, demo_users, assets],
        after_request=with_security_headers,
    )
