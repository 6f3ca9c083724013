"""Pick-up tokens: long enough, personal, re-derivable under any key of the list; their setting; never in a log line."""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid

import pytest

from shared.config import ConfigError, Settings
from shared.observability.logs import ConsoleFormatter, JsonFormatter
from shared.pickup.tokens import LinkKeys, new_salt, token_hash, well_formed

KEY_A = base64.urlsafe_b64encode(b"a" * 32).decode()
KEY_B = base64.urlsafe_b64encode(b"b" * 32).decode()
HANDOFF, SAM, RILEY = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_a_token_is_43_url_safe_characters_and_each_link_has_its_own() -> None:
    keys = LinkKeys.from_secret(KEY_A)
    salt = new_salt()
    token = keys.token(salt, HANDOFF, SAM)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert well_formed(token)
    assert len(salt) * 8 >= 128
    others = {
        keys.token(new_salt(), HANDOFF, SAM),  # another link of the same senior: another salt
        keys.token(salt, HANDOFF, RILEY),
        keys.token(salt, uuid.uuid4(), SAM),
        LinkKeys.from_secret(KEY_B).token(salt, HANDOFF, SAM),
    }
    assert token not in others
    assert len(others) == 4
    assert keys.token(salt, HANDOFF, SAM) == token  # the same inputs give the same link: a reminder can repeat it


def test_a_reminder_finds_the_token_under_whichever_key_made_it() -> None:
    salt = new_salt()
    token = LinkKeys.from_secret(KEY_A).token(salt, HANDOFF, SAM)
    rotated = LinkKeys.from_secret(f"{KEY_B}, {KEY_A}")
    assert rotated.rederive(salt, HANDOFF, SAM, token_hash(token)) == token
    assert rotated.token(salt, HANDOFF, SAM) != token  # new links are made under the new key
    assert LinkKeys.from_secret(KEY_B).rederive(salt, HANDOFF, SAM, token_hash(token)) is None
    assert rotated.rederive(salt, HANDOFF, RILEY, token_hash(token)) is None


@pytest.mark.parametrize(
    "token", ["", "a" * 42, "a" * 44, "a" * 42 + "=", "a" * 42 + "/", "a" * 42 + "é", "a" * 42 + "\n"]
)
def test_anything_but_43_url_safe_characters_is_not_a_token(token: str) -> None:
    assert not well_formed(token)


def test_a_malformed_key_is_named_by_its_position() -> None:
    with pytest.raises(ConfigError, match="key 2 of HANDOFF_SECRET_KEY"):
        LinkKeys.from_secret(f"{KEY_A},not-a-key")


def test_the_links_lifetime_is_a_day_unless_set_and_a_bad_value_names_the_variable() -> None:
    assert Settings.from_env({}).pick_up_link_ttl_s == 86400
    assert Settings.from_env({"HANDOFF_PICK_UP_LINK_TTL_S": "3600"}).pick_up_link_ttl_s == 3600
    for bad in ("0", "-5", "a day", "2592001"):
        with pytest.raises(ConfigError, match=r"^HANDOFF_PICK_UP_LINK_TTL_S is not valid"):
            Settings.from_env({"HANDOFF_PICK_UP_LINK_TTL_S": bad})


def test_no_log_line_carries_a_pick_up_token() -> None:
    token = LinkKeys.from_secret(KEY_A).token(new_salt(), HANDOFF, SAM)
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", f"/pick-up/{token}?utm=x", "1.1", 200),
        None,
    )
    fields = json.loads(JsonFormatter().format(access))
    assert (fields["event"], fields["path"]) == ("POST /pick-up/… 200", "/pick-up/…")
    assert "POST /pick-up/… 200" in ConsoleFormatter().format(access)
    other = logging.LogRecord("litestar", logging.WARNING, __file__, 1, "no route for %s", (f"/pick-up/{token}",), None)
    other.path = f"https://handoff.example.test/pick-up/{token}"
    for line in (JsonFormatter().format(other), ConsoleFormatter().format(other), JsonFormatter().format(access)):
        assert token not in line
