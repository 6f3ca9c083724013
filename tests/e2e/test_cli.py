"""The `handoff` command as an operator meets it: one sentence for a bad setting, usage errors, no stray secrets."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from tests.support.processes import HANDOFF, clean_env

USER = str(uuid.uuid4())


def handoff(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HANDOFF, *args], cwd=cwd, env=clean_env(env), capture_output=True, text=True, timeout=60, check=False
    )


def test_token_without_a_secret_outside_a_dev_folder_refuses_in_one_sentence(tmp_path: Path) -> None:
    result = handoff("token", "--user", USER, "--role", "engineer", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "handoff: HANDOFF_JWT_SECRET is not set: handoff token needs the API's secret, "
        "or a folder where `handoff dev` has run"
    ]
    assert not (tmp_path / "var").exists()  # no secret of its own was made up


def test_token_with_the_secret_prints_one_token(tmp_path: Path) -> None:
    result = handoff(
        "token",
        "--user",
        USER,
        "--account",
        str(uuid.uuid4()),
        "--role",
        "engineer",
        cwd=tmp_path,
        env={"HANDOFF_JWT_SECRET": "s" * 40},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(".") == 2


def test_a_bad_uuid_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    result = handoff("token", "--user", "notauuid", "--role", "engineer", cwd=tmp_path)
    assert result.returncode == 2
    assert "argument --user: invalid UUID value: 'notauuid'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_setting_names_the_environment_variable(tmp_path: Path) -> None:
    for variable, value, message in (
        ("HANDOFF_SMTP_PORT", "abc", "handoff: HANDOFF_SMTP_PORT is not valid: expected `int`, got `str`"),
        (
            "HANDOFF_LOG_LEVEL",
            "verbose",
            "handoff: HANDOFF_LOG_LEVEL is not valid: use one of DEBUG, INFO, WARNING, ERROR",
        ),
    ):
        result = handoff("api", cwd=tmp_path, env={variable: value})
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [message]


def test_check_without_redis_says_what_it_needs(tmp_path: Path) -> None:
    result = handoff("notifier", "--check", cwd=tmp_path)
    assert result.returncode == 1
    assert "HANDOFF_REDIS_URL" in result.stderr
