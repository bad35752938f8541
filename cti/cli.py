"""The ``cti`` command: serve, check a configuration, migrate the database, ask the router why."""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import json
import logging
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cti.config import DEMO_CONFIG, AppConfig, ConfigError, load_config
from cti.config_cli import add_parsers as add_config_parsers
from cti.observe.logs import configure_logging

if TYPE_CHECKING:
    from aiohttp import web

DEFAULT_DB = "sqlite+aiosqlite:///cti.db"


def _serve(args: argparse.Namespace) -> int:
    from cti.app import ServerSettings, build_app
    from cti.datadir import default_data_dir
    from cti.redact import safe_url

    config_path = args.config or DEMO_CONFIG
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"cti: {exc}", file=sys.stderr)
        return 2
    config = _apply_logging(args, config)
    # The flags win over the configuration's http: section.
    args.host = config.http.host if args.host is None else args.host
    args.port = config.http.port if args.port is None else args.port
    if config.demo and not _is_loopback(args.host) and not args.allow_demo:
        print(f"cti: refusing to serve the demo configuration (well-known passwords) on {args.host}: "
              "use a loopback address, or pass --allow-demo to serve it there anyway", file=sys.stderr)
        return 2
    if args.workers > 1:
        return _serve_workers(args, config)
    worker = args.worker_index is not None  # one of the processes of --workers N
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir(args.db)
    try:
        # A worker's supervisor ran the migrations once: workers starting together would race.
        app = build_app(config, ServerSettings(db_url=args.db, redis_url=args.redis, node_id=args.node_id,
                                               redis_prefix=args.redis_prefix, data_dir=data_dir,
                                               migrate=not worker))
    except ConfigError as exc:
        print(f"cti: {exc}", file=sys.stderr)
        return 2
    if worker:
        return _run(app, args, config)

    def announce(port: int) -> None:
        base = f"http://{args.host}:{port}"
        print(f"cti: serving on {base}  database {safe_url(args.db)}"
              f"{'  redis ' + safe_url(args.redis) if args.redis else ''}")
        print(f"cti: agent desktop {base}/agent   supervisor board {base}/supervisor   "
              f"chat widget {base}/chat")
        if args.config is None:
            print("cti: demo log-ins (agent id / password):")
            for a in config.agents.values():
                print(f"       {a.id:<6} / {a.password:<6} {a.role.value}, team {a.team or '-'}")

    return _run(app, args, config, announce=announce)


def _apply_logging(args: argparse.Namespace, config: AppConfig) -> AppConfig:
    """The configuration's ``logging:`` section, under the flags (``--log-format``,
    ``--access-log``), which win."""
    from dataclasses import replace

    if args.log_format is None:
        configure_logging(level=args.log_level, fmt=config.logging.format, worker=_worker_tag(args))
    if args.access_log and not config.logging.access_log:
        config = replace(config, logging=config.logging.model_copy(update={"access_log": True}))
    return config


def _worker_tag(args: argparse.Namespace) -> str | None:
    """With --workers, each line says which process wrote it (they share the output)."""
    worker = getattr(args, "worker_index", None)
    if getattr(args, "workers", 1) == 1 and worker is None:
        return None
    return "supervisor" if worker is None else f"worker {worker}"


def _run(app: web.Application, args: argparse.Namespace, config: AppConfig,
         announce: Callable[[int], None] | None = None) -> int:
    """Serve with the ``traffic:`` limits; a port that cannot be used is one line and exit 2."""
    from cti.serve import ListenError, run

    try:
        run(app, host=args.host, port=args.port, traffic=config.traffic,
            reuse_port=args.worker_index is not None, announce=announce)
    except ListenError as exc:
        print(f"cti: {exc}", file=sys.stderr)
        return 2
    return 0


def _serve_workers(args: argparse.Namespace, config: AppConfig) -> int:
    """``--workers N``: check once what every worker would refuse, migrate once, hold the port,
    then supervise N ``cti serve`` processes (cti/workers.py says why SO_REUSEPORT)."""
    import asyncio
    import secrets
    import socket

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from context.migrate import upgrade
    from cti.app import ServerSettings, build_app
    from cti.redact import safe_url
    from cti.workers import Supervisor, hold_port, reuse_port_available

    try:
        sqlite = make_url(args.db).get_backend_name() == "sqlite"
    except ArgumentError:
        sqlite = True  # refused below, as a worker would refuse it
    if not args.redis or sqlite:
        print(f"cti: --workers {args.workers} needs --redis and a PostgreSQL --db: the workers share "
              "routing state and events through Redis and data through the database (SQLite with "
              "several writers and in-memory routing cannot be shared)", file=sys.stderr)
        return 2
    if not reuse_port_available():
        print("cti: --workers needs SO_REUSEPORT, which this system lacks: run one process per port "
              "behind a proxy instead", file=sys.stderr)
        return 2
    try:  # the rules every worker would apply (token_secret with Redis, the channel sections)
        build_app(config, ServerSettings(db_url=args.db, redis_url=args.redis, node_id="check"))
    except ConfigError as exc:
        print(f"cti: {exc}", file=sys.stderr)
        return 2
    try:
        held = hold_port(args.host, args.port)
    except OSError as exc:
        print(f"cti: cannot use {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    port = int(held.getsockname()[1])  # --port 0: the one the kernel chose, for every worker
    base = args.node_id or f"{socket.gethostname()}-{secrets.token_hex(3)}"

    def command(index: int) -> list[str]:
        argv = [sys.executable, "-m", "cti.cli", "--log-level", args.log_level,
                *(["--log-format", args.log_format] if args.log_format else []), "serve",
                "--host", args.host, "--port", str(port), "--db", args.db, "--redis", args.redis,
                "--redis-prefix", args.redis_prefix, "--node-id", f"{base}-w{index}",
                "--worker-index", str(index)]
        if args.config:
            argv += ["--config", args.config]
        if args.data_dir:
            argv += ["--data-dir", args.data_dir]
        if args.allow_demo:
            argv.append("--allow-demo")
        if args.access_log:
            argv.append("--access-log")
        return argv

    with held:
        upgrade(args.db)
        print(f"cti: serving on http://{args.host}:{port} with {args.workers} workers (nodes "
              f"{base}-w1..w{args.workers})  database {safe_url(args.db)}  redis {safe_url(args.redis)}")
        return asyncio.run(Supervisor(count=args.workers, command=command).run())


def _config_check(args: argparse.Namespace) -> int:
    from cti.app import ServerSettings, build_app
    from cti.config_check import review

    path = args.file or DEMO_CONFIG
    try:
        config = load_config(path)
        # The channel sections are read by their adapters: building the app reads them all
        # (nothing is started, no database is opened).
        build_app(config, ServerSettings(db_url="sqlite+aiosqlite:///:memory:", node_id="check"))
    except ConfigError as exc:
        print(f"cti: {path}: {exc}", file=sys.stderr)
        return 2
    found = review(config)
    print(f"cti: {path} is valid")
    for line in found.summary:
        print(f"  {line}")
    for warning in found.warnings:
        print(f"  warning: {warning}")
    return 1 if found.warnings and args.strict else 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from context.migrate import upgrade

    upgrade(args.db)
    print("cti: database is at the latest revision")
    return 0


def _request(url: str, *, token: str | None = None, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _explain(args: argparse.Namespace) -> int:
    if args.url:
        base = args.url.rstrip("/")
    else:
        try:
            http = load_config(args.config or DEMO_CONFIG).http
        except ConfigError as exc:
            print(f"cti: {exc}", file=sys.stderr)
            return 2
        base = f"http://{http.client_host()}:{http.port}"
    password = args.password or getpass.getpass(f"password for {args.user}: ")
    try:
        token = _request(f"{base}/api/login", body={"agent_id": args.user, "password": password})["token"]
        result = _request(f"{base}/api/routing/explain/{args.interaction_id}", token=token)
    except urllib.error.HTTPError as exc:
        print(f"cti: {exc.code} {exc.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"cti: cannot reach {base}: {exc.reason}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    chosen = result.get("chosen")
    print(f"interaction {result['interaction_id']}: urgency {result['urgency']:.2f}, rank {result['rank']}")
    if chosen:
        reason = chosen["reason"]
        print(f"  would go to {chosen['agent_id']} by rule {reason['rule']}"
              f" (skills {reason['skill_match']}, preferred {reason['preferred']})")
    else:
        print("  no agent could take it now")
    for c in result["candidates"]:
        print(f"  {c['agent_id']:<12} {'eligible' if c['eligible'] else 'no: ' + str(c['why_not'])}")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def _hash_password(args: argparse.Namespace) -> int:
    from cti.passwords import hash_password

    # From a terminal, asked without echo; from a pipe (scripts), the first line.
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not password:
        print("cti: an empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cti", description="contact-center server")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--log-format", choices=("auto", "json", "text"), default=None,
                        help="auto (default): JSON lines unless stderr is a terminal; over the "
                             "configuration's logging.format")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=None, help="default: http.host of --config, else 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: http.port of --config, else 8080")
    serve.add_argument("--db", default=DEFAULT_DB, help="SQLAlchemy URL (default: a SQLite file cti.db)")
    serve.add_argument("--redis", default=None, help="Redis URL, to share routing and events between nodes")
    serve.add_argument("--config", default=None, help="YAML or TOML file of agents, teams, queues, skills")
    serve.add_argument("--redis-prefix", default="cti", help="key prefix, to share one Redis between centers")
    serve.add_argument("--node-id", default=None)
    serve.add_argument("--data-dir", default=None,
                       help="where a single node keeps its generated token secret (default: the SQLite "
                            "database's directory, or ./cti-data)")
    serve.add_argument("--allow-demo", action="store_true",
                       help="serve a demo configuration (well-known passwords) on a non-loopback address")
    serve.add_argument("--workers", type=_positive, default=1,
                       help="server processes on this port, each a node sharing --redis and a "
                            "PostgreSQL --db (default 1)")
    serve.add_argument("--access-log", action="store_true",
                       help="log one line per HTTP request (also logging.access_log in the configuration)")
    serve.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)  # set by --workers
    serve.set_defaults(func=_serve)

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser(
        "check", help="validate a configuration and say what would leave customers waiting")
    check.add_argument("file", nargs="?", default=None, help="YAML or TOML file (default: the demo)")
    check.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    check.set_defaults(func=_config_check)
    add_config_parsers(config_sub, DEFAULT_DB)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply the migrations")
    upgrade.add_argument("--db", default=DEFAULT_DB)
    upgrade.set_defaults(func=_db_upgrade)

    routing = sub.add_parser("routing", help="routing tools")
    routing_sub = routing.add_subparsers(dest="routing_command", required=True)
    explain = routing_sub.add_parser("explain", help="who would get this interaction now, and why")
    explain.add_argument("interaction_id")
    explain.add_argument("--config", default=None,
                         help="the server's configuration: its http: section says where to ask "
                              "(default: the demo's, http://127.0.0.1:8080)")
    explain.add_argument("--url", default=None, help="the server's address, over --config")
    explain.add_argument("--user", default="sam")
    explain.add_argument("--password", default=None)
    explain.add_argument("--json", action="store_true")
    explain.set_defaults(func=_explain)

    hashp = sub.add_parser("hash-password", help="hash a password (argon2id) for the configuration file")
    hashp.set_defaults(func=_hash_password)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # One line per record whatever a value from outside holds: JSON escapes it, the text form
    # escapes control characters (cti.logformat). `cti serve` applies its file's format later.
    configure_logging(level=args.log_level, fmt=args.log_format or "auto", worker=_worker_tag(args))
    # Alembic announces each of its plugins at INFO on every start; only its migrations matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # aiosmtpd writes about five INFO lines per mail (peer, each command, the end of the
    # session): at 200 mails a second a fifth of the log and of its CPU, none of it about a
    # customer; our own "email stored" line is the one kept. Its warnings still show.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
