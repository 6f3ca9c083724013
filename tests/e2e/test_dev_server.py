"""`handoff dev` as a newcomer runs it: migrate, seed, print tokens, serve; the README's curl flow works."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import httpx

from tests.support.processes import HANDOFF, clean_env, run_handoff, running, spare_port, stop, wait_healthy
from tests.support.waiting import until

REPO = Path(__file__).resolve().parents[2]


def test_dev_server_serves_the_readme_flow(tmp_path: Path) -> None:
    port = spare_port()
    base = f"http://127.0.0.1:{port}"
    with running(["dev"], cwd=tmp_path, port=port) as (_, log_path):
        output = log_path.read_text()
        # The tokens go to a file for `source`, readable by this user only, not onto the screen.
        demo_env = tmp_path / "var" / "demo.env"
        assert "source var/demo.env" in output
        assert "eyJ" not in output
        assert stat.S_IMODE(demo_env.stat().st_mode) == 0o600
        tokens = dict(re.findall(r"^export ([A-Z]+)=(\S+)$", demo_env.read_text(), re.MULTILINE))
        assert {"JAMIE", "SAM", "RILEY", "OLIVIA", "VAL"} <= tokens.keys()
        sourced = subprocess.run(
            ["bash", "-c", "source var/demo.env && echo $SAM"], cwd=tmp_path, capture_output=True, text=True
        )
        assert sourced.stdout.strip() == tokens["SAM"]
        assert f"Open http://127.0.0.1:{port}" in output
        jamie = {"Authorization": f"Bearer {tokens['JAMIE']}"}
        sam = {"Authorization": f"Bearer {tokens['SAM']}"}
        riley = {"Authorization": f"Bearer {tokens['RILEY']}"}

        with httpx.Client(base_url=base, timeout=10) as http:
            session = http.post(
                "/api/v1/ai-sessions", headers=jamie, json={"title": "Printer offline", "ticket_ref": "4711"}
            )
            assert session.status_code == 201
            handoff = http.post(
                f"/api/v1/ai-sessions/{session.json()['id']}/handoff",
                headers=jamie,
                json={"intent": "escalate", "note": "Spooler restarts did not help", "urgency": "high"},
            )
            assert handoff.status_code == 201
            # The embedded default runs the assessor in-process: the assessment fills in by itself.
            path = f"/api/v1/handoffs/{handoff.json()['id']}"
            until(
                lambda: http.get(path, headers=sam).json()["assessment_status"] != "pending",
                15,
                "the assessment",
                interval=0.1,
            )
            assessed = http.get(f"/api/v1/handoffs/{handoff.json()['id']}", headers=sam).json()
            assert assessed["assessment_status"] == "ready"
            assert assessed["ai_assessment_data"]["provider"] == "heuristic"
            queue = http.get("/api/v1/ai-sessions/escalations", headers=sam).json()
            assert handoff.json()["id"] in [h["id"] for h in queue["items"]]
            claimed = http.post(f"/api/v1/handoffs/{handoff.json()['id']}/claim", headers=sam)
            assert claimed.status_code == 200
            lost = http.post(f"/api/v1/handoffs/{handoff.json()['id']}/claim", headers=riley)
            assert lost.status_code == 409
            assert lost.json()["claimed_by"]["name"] == "Sam Senior"
            assert http.get("/readyz").json() == {"status": "ok"}
            assert http.get("/schema/openapi.json").status_code == 200
        # A newcomer's terminal shows requests, not migration steps or the events relayed for them.
        output = log_path.read_text()
        assert "POST /api/v1/ai-sessions" in output
        assert "alembic" not in output
        assert "outbox" not in output

        # The embedded default is one process: a second `handoff dev` in the same place refuses to start.
        second = run_handoff("dev", "--port", str(spare_port()), cwd=tmp_path, timeout=30)
        assert second.returncode != 0
        assert "already running" in second.stderr
        # `handoff api` without Redis is the embedded default too: it refuses a second process as well.
        env = {"HANDOFF_JWT_SECRET": "s" * 40, "HANDOFF_SECRET_KEY": "k" * 43 + "="}
        replica = run_handoff("api", "--port", str(spare_port()), cwd=tmp_path, env=env, timeout=30)
        assert replica.returncode != 0
        assert "already running" in replica.stderr
    assert (tmp_path / "var" / "handoff.db").exists()


def test_api_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    result = run_handoff("api", cwd=tmp_path, timeout=30)
    assert result.returncode != 0
    assert "HANDOFF_JWT_SECRET is required" in result.stderr


def test_api_refuses_a_short_jwt_secret_in_one_sentence(tmp_path: Path) -> None:
    env = {"HANDOFF_JWT_SECRET": "s" * 31, "HANDOFF_SECRET_KEY": "k" * 43 + "="}
    result = run_handoff("api", "--port", str(spare_port()), cwd=tmp_path, env=env, timeout=30)
    assert result.returncode != 0
    assert "HANDOFF_JWT_SECRET must be at least 32 bytes" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_token_command_prints_a_token_the_api_accepts(tmp_path: Path) -> None:
    env = {
        "HANDOFF_JWT_SECRET": "s" * 40,
        "HANDOFF_SECRET_KEY": "k" * 43 + "=",
        "HANDOFF_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/h.db",
    }
    subprocess.run([HANDOFF, "migrate"], cwd=tmp_path, env=clean_env(env), check=True, capture_output=True, timeout=60)
    token = subprocess.run(
        [
            HANDOFF,
            "token",
            "--user",
            "00000000-0000-4000-8000-000000000009",
            "--account",
            "00000000-0000-4000-8000-000000000001",
            "--role",
            "engineer",
        ],
        cwd=tmp_path,
        env=clean_env(env),
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()
    port = spare_port()
    with running(["api"], cwd=tmp_path, env=env, port=port):
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/ai-sessions",
            headers={"Authorization": f"Bearer {token}"},
            json={"title": "t"},
        )
        assert response.status_code == 201


def _serve_dev(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [HANDOFF, "dev", *args],
        cwd=cwd,
        env=clean_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_port_and_host_variables_choose_the_address(tmp_path: Path) -> None:
    port = spare_port()
    process = _serve_dev(tmp_path, {"PORT": str(port), "HOST": "127.0.0.1"})
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
    finally:
        stop(process, timeout=15)


def test_make_run_serves_without_installing_the_dev_tools(tmp_path: Path) -> None:
    """`make run` in a fresh checkout: a venv with the service's dependencies only, on the port PORT names."""
    uv = REPO / ".tools" / "bin" / "uv"
    assert uv.exists(), "make env first: the test reuses the checkout's pinned uv"
    checkout = tmp_path / "checkout"
    shutil.copytree(
        REPO,
        checkout,
        ignore=shutil.ignore_patterns(".git", ".venv", ".tools", "var", "test-artifacts", "*_cache", "__pycache__"),
    )
    (checkout / ".tools").symlink_to(REPO / ".tools")
    port = spare_port()
    env = {key: value for key, value in clean_env().items() if key not in {"VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL"}}
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout=120)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    assert (checkout / ".venv" / "bin" / "handoff").exists()
    for tool in ("pytest", "ruff", "mypy", "playwright", "schemathesis"):
        assert not (checkout / ".venv" / "bin" / tool).exists(), f"make run installed {tool}"
    assert "source var/demo.env" in output
