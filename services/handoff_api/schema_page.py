"""`/schema` (also `/schema/swagger` and `/schema/redoc`): the operations of the API on one static page.

Rendered on the server from the OpenAPI document, with no script and no style: it loads nothing from
anywhere, so it shows under the same Content-Security-Policy as the dashboard. Tools read the JSON.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request, Router
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


def render_page(document: dict[str, Any], json_url: str) -> bytes:
    info = document.get("info", {})
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    rows = "\n".join(
        "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>".format(
            escape(method),
            escape(path),
            escape(str(operation.get("summary") or "")),
            escape(str(operation.get("operationId") or "")),
            escape(", ".join(sorted(operation.get("responses", {})))),
        )
        for method, path, operation in _operations(document)
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body>
<main>
<h1>{title}</h1>
<p>The full description, for tools and code generators: <a href="{escape(json_url)}">{escape(json_url)}</a>
(OpenAPI {escape(str(document.get("openapi", "")))}). Every call but the probes sends
<code>Authorization: Bearer &lt;token&gt;</code>.</p>
<table>
<caption>Operations</caption>
<thead><tr><th scope="col">Method</th><th scope="col">Path</th><th scope="col">Summary</th>
<th scope="col">Operation id</th><th scope="col">Status codes</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</main>
</body>
</html>
"""
    return page.encode()


class OperationsPage(OpenAPIRenderPlugin):
    def __init__(self) -> None:
        super().__init__(path=PAGE_PATHS)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return render_page(openapi_schema, self.get_openapi_json_route(request))


def schema_router() -> Router:
    """The `/schema` router: the JSON and the page, with the dashboard's security headers."""
    return Router(path="/schema", route_handlers=[], include_in_schema=False, after_request=with_security_headers)


RENDER_PLUGINS = [JsonRenderPlugin(), OperationsPage()]
