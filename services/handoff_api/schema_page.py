"""`/schema` (also `/schema/swagger` and `/schema/redoc`): the operations of the API on one static page.

Rendered on the server from the OpenAPI document, with no script and a stylesheet of its own: it loads
nothing from another origin, so it shows under the same Content-Security-Policy as the dashboard.
Tools read the JSON.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request, Router, get
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin

from services.handoff_api.controllers.dashboard import with_security_headers

PAGE_PATHS = ["/", "/swagger", "/redoc"]
METHODS = ("get", "post", "put", "patch", "delete")


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in sorted(document.get("paths", {}).items())
        for method, operation in item.items()
        if method in METHODS and isinstance(operation, dict)
    ]


STYLE = b"""body { font-family: system-ui, sans-serif; line-height: 1.45; margin: 1rem auto; max-width: 60rem;
  padding: 0 1rem; color: #1b1f24; background: #fff; }
code { font-size: 0.95em; overflow-wrap: anywhere; }
ul.operations { list-style: none; padding: 0; }
ul.operations li { border-top: 1px solid #d0d7de; padding: 0.6rem 0; }
ul.operations p { margin: 0.15rem 0; }
.method { display: inline-block; min-width: 4.5rem; font-weight: 700; }
"""


def render_page(document: dict[str, Any], json_url: str, style_url: str) -> bytes:
    info = document.get("info", {})
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    items = "\n".join(
        f'<li data-operation-id="{escape(str(op.get("operationId") or ""))}">'
        f'<p><span class="method">{escape(method)}</span> <code>{escape(path)}</code></p>'
        f"<p>{escape(str(op.get('summary') or ''))}: <code>{escape(str(op.get('operationId') or ''))}</code>, "
        f"answers {escape(', '.join(sorted(op.get('responses', {}))))}</p></li>"
        for method, path, op in _operations(document)
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{escape(style_url)}">
</head>
<body>
<main>
<h1>{title}</h1>
<p>The full description, for tools and code generators: <a href="{escape(json_url)}">{escape(json_url)}</a>
(OpenAPI {escape(str(document.get("openapi", "")))}). Every call but the probes sends
<code>Authorization: Bearer &lt;token&gt;</code>.</p>
<h2>Operations</h2>
<ul class="operations">
{items}
</ul>
</main>
</body>
</html>
"""
    return page.encode()


@get("/page.css", media_type="text/css", include_in_schema=False, sync_to_thread=False)
def page_style() -> bytes:
    return STYLE


class OperationsPage(OpenAPIRenderPlugin):
    def __init__(self) -> None:
        super().__init__(path=PAGE_PATHS)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        json_url = self.get_openapi_json_route(request)
        return render_page(openapi_schema, json_url, json_url.rsplit("/", 1)[0] + "/page.css")

    def receive_router(self, router: Router) -> None:
        router.register(page_style)


def schema_router() -> Router:
    """The `/schema` router: the JSON and the page, with the dashboard's security headers."""
    return Router(path="/schema", route_handlers=[], include_in_schema=False, after_request=with_security_headers)


RENDER_PLUGINS = [JsonRenderPlugin(), OperationsPage()]
