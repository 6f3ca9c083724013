"""HANDOFF_LIST_MAX_BYTES: the most one list page holds."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, Settings


def test_list_pages_hold_4_mib_unless_told_otherwise() -> None:
    assert Settings.from_env({}).list_max_bytes == 4194304
    assert Settings.from_env({"HANDOFF_LIST_MAX_BYTES": "1048576"}).list_max_bytes == 1048576


@pytest.mark.parametrize("value", ["lots", "4MiB", "-1", "0", "1023"])
def test_a_malformed_or_tiny_cap_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^HANDOFF_LIST_MAX_BYTES is not valid"):
        Settings.from_env({"HANDOFF_LIST_MAX_BYTES": value})
