"""``cti config export`` and ``cti config import``: the live configuration as a file and back,
the GitOps path beside the admin API (same checks, same versions, same audit).

``export`` prints the newest stored version's live sections as YAML (password hashes included: it
is a file for the repository the configuration already lives in). ``import FILE --dry-run`` checks
FILE as ``cti config check`` does and prints what would change; without ``--dry-run`` it stores
that as a new version and, given ``--redis``, tells the running nodes at once (otherwise they find
it within ``cti.admin.RECHECK_SECONDS``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
from typing import Any

import yaml

from cti.config import ConfigError, load_config
from cti.config_diff import diff

EXIT_INVALID = 2


def add_parsers(config_sub: Any, default_db: str) -> None:
    export = config_sub.add_parser("export", help="print the live configuration (the newest version) as YAML")
    export.add_argument("--db", default=default_db)
    export.set_defaults(func=config_export)
    imp = config_sub.add_parser("import", help="store a file's live sections as a new version")
    imp.add_argument("file", help="YAML or TOML file")
    imp.add_argument("--db", default=default_db)
    imp.add_argument("--dry-run", action="store_true", help="show the difference, store nothing")
    imp.add_argument("--actor", default="import", help="the name the version and the audit carry")
    imp.add_argument("--redis", default=None, help="the nodes' Redis URL, to announce the new version")
    imp.add_argument("--redis-prefix", default="cti")
    imp.set_defaults(func=config_import)


def config_export(args: argparse.Namespace) -> int:
    return asyncio.run(_export(args.db))


async def _export(url: str) -> int:
    from context.config_versions import SqlConfigVersions
    from context.db import Database
    from context.migrate import upgrade_async
    from cti.clock import SystemClock, UuidIds

    await upgrade_async(url)
    db = Database(url=url)
    await db.start()
    try:
        latest = await SqlConfigVersions(db=db, clock=SystemClock(), ids=UuidIds()).latest()
    finally:
        await db.aclose()
    if latest is None:
        print("cti: no configuration is stored yet (the first `cti serve` stores its file's)",
              file=sys.stderr)
        return 1
    at = datetime.datetime.fromtimestamp(latest.info.at, datetime.UTC).isoformat(timespec="seconds")
    print(f"# version {latest.info.version} by {latest.info.actor} ({latest.info.action}) at {at}")
    print(yaml.safe_dump(dict(latest.document), sort_keys=False, allow_unicode=True), end="")
    return 0


def config_import(args: argparse.Namespace) -> int:
    from cti.app import check_channels

    try:
        config = load_config(args.file)
        check_channels(config)
    except ConfigError as exc:
        print(f"cti: {args.file}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return asyncio.run(_import(args, dict(config.document)))


async def _import(args: argparse.Namespace, document: dict[str, Any]) -> int:
    import redis.asyncio as redis_asyncio

    from context.config_versions import SqlConfigVersions
    from context.db import Database
    from context.migrate import upgrade_async
    from cti.clock import SystemClock, UuidIds
    from cti.errors import CtiError
    from cti.events import ConfigChanged
    from cti.hub import EventHub

    await upgrade_async(args.db)
    db = Database(url=args.db)
    await db.start()
    try:
        store = SqlConfigVersions(db=db, clock=SystemClock(), ids=UuidIds())
        latest = await store.latest()
        changes = diff(latest.document if latest else {}, document)
        base = latest.info.version if latest else 0
        print(f"cti: {args.file} against version {base}:" if changes else
              f"cti: {args.file} is the configuration of version {base} already")
        for line in changes:
            print(f"  {line}")
        if args.dry_run or not changes:
            if args.dry_run:
                print("cti: dry run, nothing stored")
            return 0
        try:
            info = await store.append(document, actor=args.actor, action="import",
                                      summary=[f"imported from {args.file}", *changes], expected=base)
        except CtiError as exc:
            print(f"cti: {exc.message}", file=sys.stderr)
            return 1
    finally:
        await db.aclose()
    print(f"cti: stored as version {info.version}")
    if args.redis:
        client: Any = redis_asyncio.Redis.from_url(args.redis)
        try:
            hub = EventHub(node_id="cti-config-import", redis=client, channel=f"{args.redis_prefix}:events")
            await hub.publish(ConfigChanged(at=info.at, version=info.version, actor=args.actor))
        finally:
            await client.aclose()
    return 0
