"""The injection corpus written by newer Pythons too: each release folds and checks headers its own way.

Python 3.11.10, 3.12.5 and 3.13 refuse to write a header holding a raw line break (CVE-2024-6923) where
earlier releases wrote it out; our mail must be the same well-formed mail on all of them. The corpus runs
in a child process of each newer interpreter found, with the standard library and our composition only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.email_corpus import CORPUS, POSITIONS

ROOT = Path(__file__).resolve().parents[2]


def _version(python: str) -> tuple[int, int, int] | None:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:3])"], capture_output=True, text=True, timeout=30
        )
    except OSError:
        return None
    numbers = done.stdout.split()
    return (int(numbers[0]), int(numbers[1]), int(numbers[2])) if done.returncode == 0 and len(numbers) == 3 else None


def newer_pythons() -> dict[tuple[int, int], tuple[tuple[int, int, int], str]]:
    """The newest release of each Python minor version at or above this one's, other than this one itself.

    Looked for in pyenv's versions (PYENV_ROOT, else ~/.pyenv) and as python3.N on PATH.
    """
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = [
        str(p / "bin" / "python")
        for p in root.glob("3.*")
        if re.fullmatch(r"3\.\d+\.\d+", p.name) and int(p.name.split(".")[1]) >= sys.version_info[1]
    ]
    candidates += [found for n in range(sys.version_info[1], 20) if (found := shutil.which(f"python3.{n}"))]
    newest: dict[tuple[int, int], tuple[tuple[int, int, int], str]] = {}
    for python in candidates:
        version = _version(python)
        if version is None or version[:2] < sys.version_info[:2] or version == tuple(sys.version_info[:3]):
            continue
        if version[:2] not in newest or version > newest[version[:2]][0]:
            newest[version[:2]] = (version, python)
    return newest


def test_newer_pythons_write_the_corpus_as_well_formed_mail() -> None:
    found = newer_pythons()
    if not any(minor >= (3, 12) for minor in found):
        pytest.fail(
            "No Python 3.12 or later was found (pyenv versions or python3.N on PATH), so the email cannot be "
            "checked on a newer email library: install one, e.g. `pyenv install 3.12`.",
            pytrace=False,
        )
    # One child per interpreter, all at once: each takes a few seconds of parsing.
    runs = {
        ".".join(map(str, version)): subprocess.Popen(
            [python, "-E", "-s", "-m", "tests.support.email_corpus"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for version, python in found.values()
    }
    for label, child in runs.items():
        stdout, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, f"Python {label}: {stderr[-2000:]}"
        verdict = json.loads(stdout)
        assert verdict["python"] == label
        assert verdict["failures"] == {}, f"Python {label}"
        assert verdict["checked"] == len(CORPUS) * len(POSITIONS) * 2, f"Python {label}"  # with and without a link
        assert verdict["naive_message_refused"], f"Python {label} would send a message with injected headers"
