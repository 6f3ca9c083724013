"""axe-core, the accessibility engine, run inside a page the browser tests have open.

`make test` installs the pinned axe-core from the npm registry under `.tools/`; nothing is fetched by a test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE_JS = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / "axe-core" / "axe.min.js"


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every axe-core violation on the page as it stands, each as `{id, impact, help, nodes: [selector]}`."""
    if not AXE_JS.exists():
        raise RuntimeError(
            f"axe-core is not installed at {AXE_JS.relative_to(AXE_JS.parents[3])}; `make test` installs it."
        )
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the browser's debugging protocol, which the dashboard's CSP does not govern.
        await page.evaluate(f"() => {{ {AXE_JS.read_text()}\n }}")
    results: dict[str, Any] = await page.evaluate(
        "async () => await window.axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [
                " ".join(node["target"]) if isinstance(node["target"], list) else node["target"]
                for node in violation["nodes"]
            ],
        }
        for violation in results["violations"]
    ]


async def assert_accessible(page: Page, screen: str) -> None:
    """Fails naming every axe-core violation on `screen`."""
    violations = await axe_violations(page)
    assert violations == [], f"axe-core violations on {screen}: {violations}"
