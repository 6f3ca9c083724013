"""`handoff api`, `handoff assessor` and `handoff notifier` as processes: each open and press of a pick-up link is
one log line an operator can read a scanner from, and no process ever writes a token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.mail_stack import mail_stack, wait_until
from tests.support.pick_up import path_of, pick_up_link, token_of
from tests.support.processes import started
from tests.support.smtp import MailCatcher

SCANNER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
PERSON = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"


def log_lines(folder: Path) -> list[dict[str, Any]]:
    """Every JSON line every process of the stack wrote."""
    lines = []
    for path in sorted(folder.glob("handoff-*.log")):
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
    return lines


async def test_each_open_and_press_is_logged_with_agent_and_address_and_no_token_is_ever_written(
    tmp_path: Path,
) -> None:
    catcher = MailCatcher()
    async with mail_stack(tmp_path, catcher, seniors=2, env={"HANDOFF_LOG_LEVEL": "INFO"}) as stack:
        with started(["notifier"], cwd=tmp_path, env=stack.env):
            junior = stack.junior
            handoff = await junior.escalate((await junior.new_session("Backups fail on FS-02"))["id"])
            await wait_until(lambda: len(catcher.received) >= 2, 60, "the page emails")
            first, second = (
                pick_up_link(mail) for mail in stack.mail_to(stack.seniors[0]) + stack.mail_to(stack.seniors[1])
            )
            http = junior.http
            # A mail scanner behind the proxy (uvicorn believes X-Forwarded-For from loopback), then the person.
            scanned = await http.get(path_of(first), headers={"User-Agent": SCANNER, "X-Forwarded-For": "203.0.113.7"})
            assert scanned.status_code == 200
            assert (await http.head(path_of(first), headers={"User-Agent": SCANNER})).status_code == 200
            assert (await http.post(path_of(first), headers={"User-Agent": PERSON})).status_code == 200
            assert (await http.post(path_of(second), headers={"User-Agent": PERSON})).status_code == 409
            assert (await http.get("/pick-up/" + "Z" * 43, headers={"User-Agent": SCANNER})).status_code == 404
            assert (await http.get("/metrics")).status_code == 200

    lines = log_lines(tmp_path)
    written = json.dumps(lines, ensure_ascii=False)
    for token in (token_of(first), token_of(second)):
        assert token not in written
        assert token[:20] not in written
    assert "/pick-up/…" in written  # the access lines are there, with the path redacted

    picked = [line for line in lines if line["logger"] == "handoff.pickup"]
    assert [(line["method"], line["outcome"]) for line in picked] == [
        ("GET", "shown"),
        ("HEAD", "shown"),
        ("POST", "picked_up"),
        ("POST", "already_picked_up"),
        ("GET", "not_found"),
    ]
    assert [line["user_agent"] for line in picked] == [SCANNER, SCANNER, PERSON, PERSON, SCANNER]
    assert [line["client"] for line in picked] == ["203.0.113.7", "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1"]
    assert {line["handoff_id"] for line in picked[:4]} == {handoff["id"]}
    assert picked[0]["link_id"] == picked[1]["link_id"] == picked[2]["link_id"] != picked[3]["link_id"]
    assert (picked[4]["link_id"], picked[4]["handoff_id"], picked[4]["reason"]) == (None, None, "unknown")
    assert all(line["request_id"] for line in picked)

    accessed = [line for line in lines if line["logger"] == "uvicorn.access" and "pick-up" in line["path"]]
    assert {line["path"] for line in accessed} == {"/pick-up/…"}
    assert len(accessed) == 5
