"""The floors of the code: the toolkit imports no domain, domains only downwards, services never each other.

Read from the source's own imports (every `import` and `from ... import`, inside functions too), so a
shortcut added anywhere fails here with the file and the module it reached for.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What every domain stands on; it knows no domain.
TOOLKIT = frozenset(
    {
        "auth",
        "background",
        "bus",
        "channels",
        "clock",
        "config",
        "crypto",
        "db",
        "errors",
        "ids",
        "input_rules",
        "jobs",
        "observability",
        "outbound",
        "outbox",
        "pace",
        "pagination",
        "ratelimit",
        "redis_master",
    }
)
# The domains, lowest first: each imports the toolkit, itself and the floors below it.
DOMAIN_FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"directory"}),
    frozenset({"sessions", "integrations", "oncall"}),
    frozenset({"policy", "chat"}),
    frozenset({"handoffs"}),
    frozenset({"deliveries", "pickup"}),
    frozenset({"escalations"}),
    frozenset({"assessments"}),
)
# Where the parts are put together; they may import anything of shared/.
COMPOSITION = frozenset({"bootstrap", "worker", "schema", "migrations"})
SERVICES = ("handoff_api", "notifier", "assessor")


def floor_of(part: str) -> int:
    """0 for the toolkit, 1.. for the domains, one above them all for the composition roots."""
    if part in TOOLKIT:
        return 0
    for number, floor in enumerate(DOMAIN_FLOORS, start=1):
        if part in floor:
            return number
    assert part in COMPOSITION, f"shared/{part} is on no floor: name it in this test"
    return len(DOMAIN_FLOORS) + 1


def imported(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def part_of(module: str, package: str) -> str | None:
    """`shared.handoffs.service` -> `handoffs`; `shared.config` -> `config`; None outside `package`."""
    names = module.split(".")
    return names[1] if len(names) > 1 and names[0] == package else None


def shared_part(path: Path) -> str:
    relative = path.relative_to(ROOT / "shared")
    return relative.parts[0].removesuffix(".py")


SHARED_FILES = sorted(p for p in (ROOT / "shared").rglob("*.py") if shared_part(p) != "__init__")


@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shared_imports_only_its_own_floor_or_lower(path: Path) -> None:
    part = shared_part(path)
    floor = floor_of(part)
    upward = sorted(
        module
        for module in set(imported(path))
        if (other := part_of(module, "shared")) is not None
        and other != part
        and other != "__init__"
        and (floor_of(other) > floor or (floor_of(other) == floor and 0 < floor <= len(DOMAIN_FLOORS)))
    )
    assert upward == [], f"shared/{part} (floor {floor}) imports {upward}"


@pytest.mark.parametrize("service", SERVICES)
def test_services_never_import_each_other(service: str) -> None:
    others = {
        (str(path.relative_to(ROOT)), module)
        for path in (ROOT / "services" / service).rglob("*.py")
        for module in imported(path)
        if (other := part_of(module, "services")) is not None and other != service
    }
    assert others == set()
