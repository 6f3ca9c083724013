"""The tests wait on conditions, never on a fixed time in case something has happened by then.

A test that waits for something (a server to answer, a row to change, an email to arrive, a process to exit)
awaits it with `tests.support.waiting` (`eventually`, `until`): it goes on as soon as the condition holds and fails
naming it at a deadline. Every other `sleep(...)` under tests/ says on its line, or on the line above, which of
these it is:

    # poll interval: ...        a loop's own pause between two looks at a condition that has a deadline
    # pace: ...                 a load's rate, a client's backoff, a schedule the run keeps
    # fault: ...                how long an injected fault lasts (a process stopped, a proxy stalled, a slow server)
    # simulated work: ...       how long a stand-in for real work takes (a job, a post on its way)
    # real time must pass: ...  a TTL or timer that must truly elapse, with no clock the test could move instead
    # absence: ...              a bounded look for something that must not happen, where no later event proves it
    # yield: ...                sleep(0): one turn of the event loop, no time at all
    # passed on: ...            a wrapper handing its caller's sleep to what it wraps
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REASON = re.compile(
    r"#\s*(poll interval|pace|fault|simulated work|real time must pass|absence|yield|passed on)\s*:", re.IGNORECASE
)
# The shared poll helpers: the one place a condition is polled without a reason of its own.
SHARED_POLL_HELPERS = {("support/waiting.py", "eventually"), ("support/waiting.py", "until")}


def is_sleep(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Name) and func.id == "sleep") or (
        isinstance(func, ast.Attribute) and func.attr == "sleep"
    )


def unexplained_sleeps(source: str, name: str) -> list[int]:
    """The lines of the sleep calls in `source` (the file `name` under tests/) with no reason comment, outside the
    shared poll helpers."""
    lines = source.splitlines()
    found: list[int] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Call) and is_sleep(child) and (name, function) not in SHARED_POLL_HELPERS:
                first, last = child.lineno, child.end_lineno or child.lineno
                near = [lines[n - 1] for n in range(first, last + 1)]
                above = lines[first - 2].strip() if first >= 2 else ""
                if above.startswith("#"):
                    near.append(above)
                if not any(REASON.search(line) for line in near):
                    found.append(first)
            visit(child, inner)

    visit(ast.parse(source, name), None)
    return found


def test_every_sleep_in_the_tests_says_why_it_is_not_a_wait_on_a_condition() -> None:
    unexplained = [
        f"tests/{path.relative_to(TESTS).as_posix()}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line in unexplained_sleeps(path.read_text(), path.relative_to(TESTS).as_posix())
    ]
    assert unexplained == [], (
        "await the condition with tests.support.waiting (eventually/until), or say on the line why this sleep is "
        "not a wait on one (see this test's docstring for the reasons): " + ", ".join(unexplained)
    )


PROBE = """import asyncio, time
async def f():
    await asyncio.sleep(1)
    await asyncio.sleep(0.1)  # pace: the load's rate
    # fault: the outage lasts this long
    time.sleep(2)
    time.sleep(3)  # would it still come?
    await asyncio.sleep(
        0.5
    )  # absence: nothing marks that it did not come
def eventually():
    time.sleep(0.1)
"""


def test_the_check_names_a_sleep_without_a_reason_and_passes_one_with_a_reason() -> None:
    assert unexplained_sleeps(PROBE, "unit/probe.py") == [3, 7, 12]  # the shared helpers' names elsewhere count
    helpers = (TESTS / "support" / "waiting.py").read_text()
    assert "sleep(" in helpers
    assert unexplained_sleeps(helpers, "support/waiting.py") == []  # the shared helpers poll without a reason
