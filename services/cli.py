"""The `handoff` command line."""

from __future__ import annotations

import argparse
import asyncio
import base64
import fcntl
import json
import logging
import os
import secrets
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import ROLES
from shared.auth.tokens import issue_token
from shared.config import ConfigError, Settings
from shared.db.migrate import upgrade

log = logging.getLogger("handoff")
VAR = Path("var")


def _dev_secrets() -> dict[str, str]:
    """Secrets for `handoff dev`, made once and kept under var/ so demo tokens survive a restart."""
    path = VAR / "dev-secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    VAR.mkdir(exist_ok=True)
    values = {
        "jwt_secret": secrets.token_urlsafe(32),
        "secret_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def _single_replica_lock() -> IO[str]:
    """The embedded default keeps its bus and jobs in memory: a second process would split them."""
    VAR.mkdir(exist_ok=True)
    handle = (VAR / "handoff-dev.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit("handoff is already running here on the embedded default, which runs as one process only")
    return handle


def _serve(
    settings: Settings, host: str, port: int, *, embedded: bool = False, demo_users: list[dict[str, Any]] | None = None
) -> None:
    from services.handoff_api.app import create_app
    from services.handoff_api.server import HandoffServer

    workers = []
    if embedded:
        from services.assessor.worker import attach_in_process as attach_assessor
        from services.notifier.worker import attach_in_process as attach_notifier

        workers = [attach_assessor, attach_notifier]
    app = create_app(settings, in_process_workers=workers, demo_users=demo_users or [])
    HandoffServer.for_app(app, host=host, port=port).run()


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> None:
    upgrade(settings.database_url)
    print("database is at the latest schema")


def cmd_api(settings: Settings, args: argparse.Namespace) -> None:
    settings.require_secrets()
    if settings.redis_url:
        _serve(settings, args.host, args.port)
        return
    # No Redis: events and jobs live in this process, so it must be the only one, and it runs the workers.
    log.warning("no HANDOFF_REDIS_URL: running embedded (in-process bus, assessor and notifier; one replica only)")
    lock = _single_replica_lock()
    try:
        _serve(settings, args.host, args.port, embedded=True)
    finally:
        lock.close()


def cmd_dev(settings: Settings, args: argparse.Namespace) -> None:
    from services.demo import DEMO_ACCOUNT, seed_demo
    from shared.bootstrap import Runtime

    lock = _single_replica_lock()
    defaults = _dev_secrets()
    settings = Settings.from_env(
        dev_mode=True,
        jwt_secret=settings.jwt_secret or defaults["jwt_secret"],
        secret_key=settings.secret_key or defaults["secret_key"],
    )
    upgrade(settings.database_url)

    demo_users: list[dict[str, Any]] = []

    async def seed() -> None:
        runtime = Runtime.build(settings)
        try:
            users = await seed_demo(runtime.sessionmaker)
        finally:
            await runtime.stop()
        print(f"\nDemo account {DEMO_ACCOUNT} seeded. Tokens (valid 30 days):\n")
        for user in users:
            token = issue_token(
                settings.jwt_secret,
                user_id=user.id,
                account_id=DEMO_ACCOUNT,
                role=user.role,
                name=user.name,
                email=user.email,
                ttl=timedelta(days=30),
            )
            demo_users.append(
                {"id": str(user.id), "name": user.name, "role": user.role, "blurb": user.blurb, "token": token}
            )
            print(f"  {user.name} ({user.blurb})\n    export {user.name.split()[0].upper()}={token}\n")
        print(f"Open http://{args.host}:{args.port} and pick a demo user.\n", flush=True)

    asyncio.run(seed())
    try:
        _serve(settings, args.host, args.port, embedded=settings.redis_url is None, demo_users=demo_users)
    finally:
        lock.close()


def cmd_assessor(settings: Settings, _: argparse.Namespace) -> None:
    from services.assessor.worker import run_worker

    asyncio.run(run_worker(settings))


def cmd_notifier(settings: Settings, _: argparse.Namespace) -> None:
    from services.notifier.worker import run_worker

    asyncio.run(run_worker(settings))


def cmd_rotate_secrets(settings: Settings, _: argparse.Namespace) -> None:
    from shared.db.engine import create_engine
    from shared.integrations.crypto import SecretBox
    from shared.integrations.service import reseal_credentials

    if not settings.secret_key:
        raise ConfigError("handoff rotate-secrets needs HANDOFF_SECRET_KEY: the new key first, then the old ones")
    box = SecretBox(settings.secret_key)

    async def rotate() -> int:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as db, db.begin():
                return await reseal_credentials(db, box)
        finally:
            await engine.dispose()

    count = asyncio.run(rotate())
    print(f"re-encrypted the credentials of {count} PSA connection(s) under the first key of HANDOFF_SECRET_KEY")


def cmd_token(settings: Settings, args: argparse.Namespace) -> None:
    if not settings.jwt_secret:
        settings = Settings.from_env(jwt_secret=_dev_secrets()["jwt_secret"])
    token = issue_token(
        settings.jwt_secret,
        user_id=uuid.UUID(args.user),
        account_id=uuid.UUID(args.account) if args.account else None,
        role=args.role,
        name=args.name,
        email=args.email,
        ttl=timedelta(hours=args.hours),
    )
    print(token)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="handoff", description="Handoff service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("assessor", help="run the AI assessment worker").set_defaults(func=cmd_assessor)
    sub.add_parser("notifier", help="run the email and PSA worker").set_defaults(func=cmd_notifier)
    sub.add_parser(
        "rotate-secrets", help="re-encrypt every stored credential under the first key of HANDOFF_SECRET_KEY"
    ).set_defaults(func=cmd_rotate_secrets)
    for name, func, help_text in (
        ("api", cmd_api, "run the HTTP/SSE API"),
        ("dev", cmd_dev, "run everything in one process on the embedded default, with demo data"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.set_defaults(func=func)
    token = sub.add_parser("token", help="print a signed token for local use")
    token.add_argument("--user", required=True, help="user id (UUID)")
    token.add_argument("--account", help="account id (UUID); omit for a service token")
    token.add_argument("--role", required=True, choices=sorted(ROLES))
    token.add_argument("--name")
    token.add_argument("--email")
    token.add_argument("--hours", type=float, default=12)
    token.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("HANDOFF_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = Settings.from_env()
        args.func(settings, args)
    except ConfigError as exc:
        sys.exit(f"handoff: {exc}")
    except KeyboardInterrupt:
        pass
