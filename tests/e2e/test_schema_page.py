"""The API's description page in Chromium: styled under its own CSP, asking nothing of another origin, 360 px wide."""

from __future__ import annotations

from urllib.parse import urlsplit

from services.handoff_api.app import create_app
from shared.bootstrap import Runtime
from tests.support.axe import assert_accessible
from tests.support.browser import chromium, screenshot
from tests.support.servers import serving


async def test_the_schema_page_renders_under_the_csp_from_this_origin_only(runtime: Runtime) -> None:
    app = create_app(runtime.settings, runtime=runtime)
    document = app.openapi_schema.to_schema()
    operations = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    requested: list[str] = []
    blocked: list[str] = []
    async with serving(app) as port, chromium() as browser:
        origin = f"127.0.0.1:{port}"
        for width in (1280, 360):
            context = await browser.new_context(viewport={"width": width, "height": 900})
            page = await context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.on("console", lambda message: blocked.append(message.text) if message.type == "error" else None)
            for path in ("/schema/swagger", "/schema/redoc", "/schema"):
                answer = await page.goto(f"http://{origin}{path}")
                assert answer is not None
                assert answer.status == 200, path
                listed = page.locator("li[data-operation-id]")
                assert await listed.count() == len(operations), path
                shown = {await item.get_attribute("data-operation-id") for item in await listed.all()}
                assert shown == operations, path
                assert await listed.first.locator(".method").evaluate("e => getComputedStyle(e).fontWeight") == "700"
                wide = await page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
                assert not wide, f"{path} overflows at {width} px"
                link = page.get_by_role("link", name="/schema/openapi.json")
                assert await link.get_attribute("href") == "/schema/openapi.json"
            await assert_accessible(page, f"schema page at {width} px")
            await screenshot(page, f"schema-page-{width}")
            await context.close()
            assert {urlsplit(url).netloc for url in requested} == {origin}, requested
            assert blocked == [], blocked  # a CSP violation is reported on the console
