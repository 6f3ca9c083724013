"""The `handoff` command line."""

from __future__ import annotations

import argparse
import asyncio
import base64
import errno
import fcntl
import gc
import json
import logging
import os
import secrets
import socket
import sys
import uuid
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.auth.principal import ROLES
from shared.auth.tokens import issue_token
from shared.config import ConfigError, Settings
from shared.db.migrate import upgrade
from shared.observability.logs import configure_logging

log = logging.getLogger("handoff")
VAR = Path("var")


DEV_SECRETS = VAR / "dev-secrets.json"
DEMO_ENV = VAR / "demo.env"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000


def _dev_secrets() -> dict[str, str]:
    """Secrets for `handoff dev`, made once and kept under var/ so demo tokens survive a restart."""
    path = DEV_SECRETS
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


def _listen_address(args: argparse.Namespace) -> tuple[str, int]:
    """--host and --port, else the HOST and PORT variables (`make run PORT=8001`), else 127.0.0.1:8000."""
    host = args.host or os.environ.get("HOST", "").strip() or DEFAULT_HOST
    if args.port is not None:
        return host, int(args.port)
    raw = os.environ.get("PORT", "").strip()
    if not raw:
        return host, DEFAULT_PORT
    try:
        return host, _port(raw)
    except argparse.ArgumentTypeError:
        raise ConfigError(f"PORT={raw!r} is not a port number (1-65535)") from None


def _bind(host: str, port: int) -> socket.socket:
    """Take the port before anything is printed, so a busy one fails at once; uvicorn then serves on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            other = port + 1 if port < 65535 else DEFAULT_PORT + 1
            raise ConfigError(
                f"port {port} on {host} is already in use: pick another with --port {other} (make run PORT={other})"
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _serve(
    settings: Settings,
    listener: socket.socket,
    host: str,
    port: int,
    *,
    embedded: bool = False,
    demo_users: list[dict[str, Any]] | None = None,
) -> None:
    from services.handoff_api.app import create_app
    from services.handoff_api.server import HandoffServer

    workers = []
    if embedded:
        from services.assessor.worker import attach_in_process as attach_assessor
        from services.notifier.worker import attach_in_process as attach_notifier

        workers = [attach_assessor, attach_notifier]
    app = create_app(settings, in_process_workers=workers, demo_users=demo_users or [])
    log_format = settings.log_format or ("console" if settings.dev_mode else "json")
    server = HandoffServer.for_app(app, host=host, port=port, log_level=settings.log_level, log_format=log_format)
    # What was built so far (modules, the app with its routes and description, compiled statements) lives as long as
    # the process: frozen out of the collector's way. A full collection then walks what serving made, not ~135,000
    # objects of start-up; it paused the process for about 70 ms every few seconds under load, the claim race's p99.
    gc.freeze()
    server.run(sockets=[listener])


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> None:
    upgrade(settings.database_url)
    log.info("database is at the latest schema")


def cmd_api(settings: Settings, args: argparse.Namespace) -> None:
    settings.require_secrets()
    host, port = _listen_address(args)
    if settings.uses_redis:
        _serve(settings, _bind(host, port), host, port)
        return
    # No Redis: events and jobs live in this process, so it must be the only one, and it runs the workers.
    lock = _single_replica_lock()
    listener = _bind(host, port)
    log.warning("no HANDOFF_REDIS_URL: running embedded (in-process bus, assessor and notifier; one replica only)")
    try:
        _serve(settings, listener, host, port, embedded=True)
    finally:
        lock.close()


def cmd_dev(settings: Settings, args: argparse.Namespace) -> None:
    from services.demo import DEMO_ACCOUNT, seed_demo
    from shared.bootstrap import Runtime

    host, port = _listen_address(args)
    lock = _single_replica_lock()
    listener = _bind(host, port)
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
        exports = []
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
            exports.append((user.name.split()[0].upper(), user, token))
        _write_demo_env([(variable, token) for variable, _, token in exports])
        print(f"\nDemo account {DEMO_ACCOUNT} seeded. Its users, and the variable holding each one's token:\n")
        for variable, user, _ in exports:
            print(f"  ${variable:<7} {user.name} ({user.blurb})")
        print(f"\nFor curl, in another terminal here:  source {DEMO_ENV}   (tokens valid 30 days)")
        print(f"Open http://{host}:{port} and pick a demo user.\n", flush=True)

    asyncio.run(seed())
    try:
        _serve(settings, listener, host, port, embedded=not settings.uses_redis, demo_users=demo_users)
    finally:
        lock.close()


def _write_demo_env(tokens: list[tuple[str, str]]) -> None:
    """`export NAME=token` lines for `source`; readable by this user only, as the tokens are credentials."""
    DEMO_ENV.unlink(missing_ok=True)
    fd = os.open(DEMO_ENV, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# Demo tokens written by `handoff dev`; load them with: source var/demo.env\n")
        handle.writelines(f"export {variable}={token}\n" for variable, token in tokens)


def _check_worker(settings: Settings, job: str) -> None:
    """Exit 0 when a worker running `job` reported itself healthy within the last few seconds, else 1."""
    from shared.jobs.arq_observed import worker_is_healthy
    from shared.redis_master import RedisMaster

    master = RedisMaster.of(settings, role=f"{job}-check")
    if master is None:
        sys.exit("handoff: the health check needs HANDOFF_REDIS_URL or HANDOFF_REDIS_SENTINELS (the workers' Redis)")
    sys.exit(0 if asyncio.run(worker_is_healthy(master, job)) else 1)


def cmd_assessor(settings: Settings, args: argparse.Namespace) -> None:
    from services.assessor.worker import run_worker
    from shared.observability.metrics import serve_worker_metrics

    if args.check:
        _check_worker(settings, "assess")
    serve_worker_metrics(settings.worker_metrics_port)
    asyncio.run(run_worker(settings))


def cmd_notifier(settings: Settings, args: argparse.Namespace) -> None:
    from services.notifier.worker import run_worker
    from shared.observability.metrics import serve_worker_metrics

    if args.check:
        _check_worker(settings, "notify")
    serve_worker_metrics(settings.worker_metrics_port)
    asyncio.run(run_worker(settings))


def cmd_rotate_secrets(settings: Settings, _: argparse.Namespace) -> None:
    from shared.chat.service import reseal_chat_urls
    from shared.crypto import SecretBox
    from shared.db.engine import create_engine
    from shared.db.uow import unit_of_work
    from shared.integrations.service import reseal_credentials

    if not settings.secret_key:
        raise ConfigError("handoff rotate-secrets needs HANDOFF_SECRET_KEY: the new key first, then the old ones")
    box = SecretBox(settings.secret_key)

    async def rotate() -> tuple[int, int]:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            # One transaction: every secret moves to the new key, or none does.
            async with unit_of_work(async_sessionmaker(engine, expire_on_commit=False)) as db:
                return await reseal_credentials(db, box), await reseal_chat_urls(db, box)
        finally:
            await engine.dispose()

    connections, destinations = asyncio.run(rotate())
    print(
        f"re-encrypted the credentials of {connections} PSA connection(s) and the URLs of {destinations} chat "
        "destination(s) under the first key of HANDOFF_SECRET_KEY"
    )


def cmd_token(settings: Settings, args: argparse.Namespace) -> None:
    if not settings.jwt_secret:
        # Only a folder `handoff dev` ran in has a secret of its own; anywhere else a made-up one would
        # print a token that the running API refuses.
        if not DEV_SECRETS.exists():
            raise ConfigError(
                "HANDOFF_JWT_SECRET is not set: handoff token needs the API's secret, "
                "or a folder where `handoff dev` has run"
            )
        settings = Settings.from_env(jwt_secret=_dev_secrets()["jwt_secret"])
    token = issue_token(
        settings.jwt_secret,
        user_id=args.user,
        account_id=args.account,
        role=args.role,
        name=args.name,
        email=args.email,
        ttl=timedelta(hours=args.hours),
    )
    print(token)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="handoff", description="Handoff service")
    parser.add_argument("--version", action="version", version=f"handoff {version('handoff')}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    for name, func, help_text in (
        ("assessor", cmd_assessor, "run the AI assessment worker"),
        ("notifier", cmd_notifier, "run the email and PSA worker"),
    ):
        worker = sub.add_parser(name, help=help_text)
        worker.add_argument(
            "--check", action="store_true", help=f"exit 0 when a {name} worker reported itself healthy, else 1"
        )
        worker.set_defaults(func=func)
    sub.add_parser(
        "rotate-secrets", help="re-encrypt stored credentials and chat URLs under the first key of HANDOFF_SECRET_KEY"
    ).set_defaults(func=cmd_rotate_secrets)
    for name, func, help_text in (
        ("api", cmd_api, "run the HTTP/SSE API"),
        ("dev", cmd_dev, "run everything in one process on the embedded default, with demo data"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", help=f"address to listen on (default: $HOST, else {DEFAULT_HOST})")
        p.add_argument("--port", type=_port, help=f"port to listen on (default: $PORT, else {DEFAULT_PORT})")
        p.set_defaults(func=func)
    token = sub.add_parser("token", help="print a signed token for local use")
    token.add_argument("--user", required=True, type=uuid.UUID, help="user id (UUID)")
    token.add_argument("--account", type=uuid.UUID, help="account id (UUID); omit for a service token")
    token.add_argument("--role", required=True, choices=sorted(ROLES))
    token.add_argument("--name")
    token.add_argument("--email")
    token.add_argument("--hours", type=_positive_hours, default=12)
    token.set_defaults(func=cmd_token)
    return parser


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (1-65535): {value!r}")
    return port


def _positive_hours(value: str) -> float:
    try:
        hours = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of hours: {value!r}") from None
    if not 0 < hours <= 24 * 366:
        raise argparse.ArgumentTypeError("hours must be above 0 and at most a year")
    return hours


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level, settings.log_format or ("console" if args.command == "dev" else "json"))
        args.func(settings, args)
    except ConfigError as exc:
        sys.exit(f"handoff: {exc}")
    except KeyboardInterrupt:
        pass
