"""The `handoff` command as an operator meets it: one sentence for a bad setting, usage errors, no stray secrets."""

from __future__ import annotations

import socket
import uuid
from importlib.metadata import version
from pathlib import Path

from tests.support.processes import run_handoff, spare_port

USER = str(uuid.uuid4())


def test_token_without_a_secret_outside_a_dev_folder_refuses_in_one_sentence(tmp_path: Path) -> None:
    result = run_handoff("token", "--user", USER, "--role", "engineer", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "handoff: HANDOFF_JWT_SECRET is not set: handoff token needs the API's secret, "
        "or a folder where `handoff dev` has run"
    ]
    assert not (tmp_path / "var").exists()  # no secret of its own was made up


def test_token_with_the_secret_prints_one_token(tmp_path: Path) -> None:
    result = run_handoff(
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
    result = run_handoff("token", "--user", "notauuid", "--role", "engineer", cwd=tmp_path)
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
        result = run_handoff("api", cwd=tmp_path, env={variable: value})
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [message]


def test_check_without_redis_says_what_it_needs(tmp_path: Path) -> None:
    result = run_handoff("notifier", "--check", cwd=tmp_path)
    assert result.returncode == 1
    assert "HANDOFF_REDIS_URL" in result.stderr


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    result = run_handoff("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"handoff {version('handoff')}"


def test_a_busy_port_fails_at_once_in_one_sentence_before_any_token(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        expected = (
            f"handoff: port {port} on 127.0.0.1 is already in use: "
            f"pick another with --port {port + 1} (make run PORT={port + 1})"
        )
        for args, env in (
            (["dev", "--port", str(port)], {}),
            (["dev"], {"PORT": str(port)}),
            (["dev", "--port", str(port)], {"PORT": str(spare_port())}),  # the flag wins over the variable
            (["api", "--port", str(port)], {"HANDOFF_JWT_SECRET": "s" * 40, "HANDOFF_SECRET_KEY": "k" * 43 + "="}),
        ):
            result = run_handoff(*args, cwd=tmp_path, env=env)
            assert result.returncode == 1, args
            assert result.stderr.strip().splitlines() == [expected], args
            assert result.stdout == "", args  # no tokens, no "Open http://..."
    assert not (tmp_path / "var" / "demo.env").exists()
    assert not (tmp_path / "var" / "handoff.db").exists()  # failed before migrating


def test_a_port_variable_that_is_not_a_port_is_named(tmp_path: Path) -> None:
    result = run_handoff("dev", cwd=tmp_path, env={"PORT": "eighty"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["handoff: PORT='eighty' is not a port number (1-65535)"]
    flag = run_handoff("dev", "--port", "70000", cwd=tmp_path)
    assert flag.returncode == 2
    assert "argument --port: not a port number (1-65535): '70000'" in flag.stderr
