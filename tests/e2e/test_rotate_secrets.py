"""Key rotation as an operator does it: a new key in front of the old one, `handoff rotate-secrets`, old key gone."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.chat.tables import ChatDestinationRow
from shared.config import ConfigError
from shared.crypto import SecretBox
from shared.db.engine import create_engine
from shared.db.migrate import upgrade
from shared.integrations.tables import PSAConnectionRow
from tests.support.processes import HANDOFF, clean_env


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_several_keys_decrypt_and_the_first_encrypts() -> None:
    old, new = new_key(), new_key()
    sealed_old = SecretBox(old).seal({"private_key": "cw-private-1"})
    both = SecretBox(f"{new}, {old}")
    assert both.open(sealed_old) == {"private_key": "cw-private-1"}
    sealed_new = both.seal({"private_key": "cw-private-2"})
    assert SecretBox(new).open(sealed_new) == {"private_key": "cw-private-2"}
    with pytest.raises(ConfigError):
        SecretBox(old).open(sealed_new)
    with pytest.raises(ConfigError, match="key 2 of HANDOFF_SECRET_KEY") as caught:
        SecretBox(f"{new},not-a-key")
    assert new not in str(caught.value)


async def stored(url: str) -> dict[uuid.UUID, str]:
    engine = create_engine(url)
    try:
        async with AsyncSession(engine) as db:
            rows = (await db.execute(select(PSAConnectionRow))).scalars().all()
            return {row.account_id: row.credentials_encrypted for row in rows}
    finally:
        await engine.dispose()


async def test_rotate_secrets_reencrypts_every_credential_under_the_first_key(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}"
    await asyncio.to_thread(upgrade, url)  # it runs an event loop of its own
    old, new = new_key(), new_key()
    credentials = {uuid.uuid4(): {"signing_secret": f"whsec-{i}"} for i in range(3)}
    engine = create_engine(url)
    async with AsyncSession(engine) as db, db.begin():
        for account_id, secret in credentials.items():
            db.add(
                PSAConnectionRow(
                    account_id=account_id,
                    provider="webhook",
                    base_url="https://93.184.215.14/hooks",
                    credentials_encrypted=SecretBox(old).seal(secret),
                )
            )
    await engine.dispose()
    before = await stored(url)

    env = clean_env({"HANDOFF_DATABASE_URL": url, "HANDOFF_SECRET_KEY": f"{new},{old}"})
    done = subprocess.run(
        [HANDOFF, "rotate-secrets"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "3 PSA connection(s)" in done.stdout
    assert new not in done.stdout + done.stderr

    after = await stored(url)
    only_new = SecretBox(new)
    for account_id, secret in credentials.items():
        assert after[account_id] != before[account_id]
        assert only_new.open(after[account_id]) == secret
        with pytest.raises(ConfigError):
            SecretBox(old).open(after[account_id])

    # A key list that opens none of them changes nothing and says which account it could not open.
    stranger = clean_env({"HANDOFF_DATABASE_URL": url, "HANDOFF_SECRET_KEY": new_key()})
    refused = subprocess.run([HANDOFF, "rotate-secrets"], env=stranger, cwd=tmp_path, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "open with no key given" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert await stored(url) == after


async def chat_urls(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        async with AsyncSession(engine) as db:
            rows = (await db.execute(select(ChatDestinationRow))).scalars().all()
            return {row.label: row.url_encrypted for row in rows}
    finally:
        await engine.dispose()


async def test_rotate_secrets_reencrypts_the_chat_webhook_urls_too(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}"
    await asyncio.to_thread(upgrade, url)
    old, new = new_key(), new_key()
    account_id = uuid.uuid4()
    hooks = {
        "Service desk": "https://prod-12.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3t",
        "#escalations": "https://hooks.slack.com/services/T0/B0/abcdefghijklmnop",
    }
    engine = create_engine(url)
    async with AsyncSession(engine) as db, db.begin():
        db.add(
            PSAConnectionRow(
                account_id=account_id,
                provider="webhook",
                base_url="https://93.184.215.14/hooks",
                credentials_encrypted=SecretBox(old).seal({"signing_secret": "whsec-1"}),
            )
        )
        for position, (label, hook) in enumerate(hooks.items()):
            db.add(
                ChatDestinationRow(
                    account_id=account_id,
                    position=position,
                    kind="teams" if position == 0 else "slack",
                    label=label,
                    url_encrypted=SecretBox(old).seal({"url": hook}),
                    host=hook.split("/")[2],
                    enabled=True,
                )
            )
    await engine.dispose()
    before = await chat_urls(url)

    env = clean_env({"HANDOFF_DATABASE_URL": url, "HANDOFF_SECRET_KEY": f"{new},{old}"})
    done = subprocess.run([HANDOFF, "rotate-secrets"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "1 PSA connection(s) and the URLs of 2 chat destination(s)" in done.stdout
    for hook in hooks.values():
        assert hook not in done.stdout + done.stderr

    after = await chat_urls(url)
    for label, hook in hooks.items():
        assert after[label] != before[label]
        assert SecretBox(new).open(after[label]) == {"url": hook}
        with pytest.raises(ConfigError):
            SecretBox(old).open(after[label])

    # A key list that opens none of them changes nothing, the PSA credentials included.
    stranger = clean_env({"HANDOFF_DATABASE_URL": url, "HANDOFF_SECRET_KEY": new_key()})
    refused = subprocess.run([HANDOFF, "rotate-secrets"], env=stranger, cwd=tmp_path, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
    assert await chat_urls(url) == after
