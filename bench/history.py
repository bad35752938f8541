"""History benchmark: the last 50 timeline entries of a customer, on PostgreSQL at size.

``python -m bench history [--pg-url URL] [--messages N] [--customers N] [--interactions N]
[--samples N] [--runs N] [--seed N] [--revision REV] [--keep] [--schema NAME]``

Seeds a fresh schema (migrated to ``--revision``, default head) with ``--messages`` messages
(default 10 million) and the customers, identities, merges, interactions and notes around them
(see bench/history_seed.py for the shape), with COPY; then ``VACUUM ANALYZE``. ``--schema`` reuses
a schema kept by an earlier ``--keep`` run instead (no seeding); otherwise the schema is dropped at
the end.

Each root customer falls in a class by the messages of its whole merge tree: ``light`` (< 50),
``medium`` (50 to 999), ``heavy`` (1,000 or more); ``merged`` are roots with customers merged into
them (any size). For each run and class, ``--samples`` random roots of the class, and for each the
first page (50 entries, as every screen pop asks) and the page after its cursor are read, the way
``context.timeline.read_timeline`` reads them (the first page's statement built once with the
customer as a parameter; a cursor page built for its cursor), through SQLAlchemy's async engine on
psycopg (the server's driver), one connection, one query at a time: at most one core busy at any
moment (the bench's or PostgreSQL's). Both statements are timed on the same customers in the same
run: ``before`` (bench/timeline_before.py, main at 8742731) and ``now`` (context/timeline.py),
alternating which goes first. Per page: the wall time (``..._ms``: includes waiting for a core,
which on a shared machine is most of it); the database's own planning + execution time
(``..._db_...``, from ``EXPLAIN (ANALYZE, TIMING OFF)`` of the same page with its values inlined, so
planned each time, which the server's prepared statements skip); the shared buffers it touched
(``..._buffers_...``: load-independent); the part of that EXPLAIN the backend spent on a core
(``..._db_oncpu_...``) and runnable but waiting for one (``..._db_waiting_...``), from
/proc/<pid>/schedstat in nanoseconds, which splits a slow page into the query's own cost and the
machine's load (on a shared machine the tail of ``..._db_...`` is mostly waiting); and the CPU time
per page on each side, mean over the run (``..._cpu_bench_mean_ms``: this thread,
``..._cpu_postgres_mean_ms``: the backend, from /proc in clock ticks, so only the mean over many
pages is meaningful). p50, p99 and max over each run, printed as
``history_<statement>_<class>_<page>[_db|_db_oncpu|_db_waiting|_buffers]_<p50|p99|max>
[_ms]_<min|median>`` over ``--runs`` runs, with ``..._ratio`` (before / now, p99 median). On an
older ``--revision`` (e.g. 0011: the schema before migration 0012) only ``before`` runs.
``EXPLAIN (ANALYZE, BUFFERS)`` of both statements is printed for the heaviest root and a light one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import Select, String, bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bench.common import cpu_seconds, emit, percentile, scheduled_ns
from bench.history_seed import Shape, seed
from bench.timeline_before import timeline_query as before_query
from context.migrate import upgrade
from context.timeline import Cursor, _entry, read_timeline, timeline_query

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PAGE = 50
BODY_LIMIT = 500  # the store's default timeline_body_limit
Build = Callable[..., Select[Any]]
STATEMENTS: dict[str, Build] = {"before": before_query, "now": timeline_query}


def log(line: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {line}", flush=True)


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def schema_url(url: str, schema: str) -> str:
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


def create_and_seed(args: argparse.Namespace, schema: str) -> None:
    url = schema_url(args.pg_url, schema)
    with psycopg.connect(libpq(args.pg_url), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    upgrade(url, args.revision)
    shape = Shape.of(args.messages, args.customers, args.interactions, args.seed)
    started = time.perf_counter()
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        counts = seed(conn, shape, log=log)
        loaded = time.perf_counter()
        conn.execute("VACUUM ANALYZE customers, identities, merges, interactions, messages, notes")
        size = conn.execute("SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c "
                            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
                            ).fetchone()[0]  # type: ignore[index]
    for table, n in counts.items():
        emit(f"history_rows_{table}", n)
    emit("history_seed_load_and_index_s", loaded - started)
    emit("history_seed_total_s", time.perf_counter() - started)
    emit("history_schema_size", str(size))


async def classes(conn: AsyncConnection, rnd: random.Random) -> dict[str, list[str]]:
    """Root customers by the size of their tree's history."""
    per_root = (await conn.execute(text(
        "SELECT i.root_customer_id, sum(n.c) FROM interactions i JOIN (SELECT interaction_id, count(*) c "
        "FROM messages GROUP BY interaction_id) n ON n.interaction_id = i.id "
        "GROUP BY i.root_customer_id"))).all()
    merged = set((await conn.execute(text(
        "SELECT DISTINCT root_id FROM customers WHERE merged_into IS NOT NULL"))).scalars())
    out: dict[str, list[str]] = {"light": [], "medium": [], "heavy": [], "merged": []}
    for root, n in per_root:
        out["light" if n < 50 else "medium" if n < 1000 else "heavy"].append(root)
        if root in merged:
            out["merged"].append(root)
    for name, roots in out.items():
        roots.sort()
        rnd.shuffle(roots)
        emit(f"history_roots_{name}", len(roots))
    heaviest = max(per_root, key=lambda r: r[1])
    emit("history_heaviest_root_messages", int(heaviest[1]))
    out["heaviest"] = [heaviest[0]]
    return out


async def page(conn: AsyncConnection, name: str, first: Select[Any], customer: str,
               cursor: Cursor | None) -> tuple[float, Cursor | None]:
    """One page: (seconds, the next page's cursor). ``now`` is the server's own read_timeline;
    ``before`` is what read_timeline did at 8742731 (first page's statement built once, a
    cursor page's built for its cursor, entries made from the rows)."""
    started = time.perf_counter()
    if name == "now":
        got = await read_timeline(conn, customer, limit=PAGE, before=cursor.encode() if cursor else None,
                                  body_limit=BODY_LIMIT)
        elapsed = time.perf_counter() - started
        return elapsed, Cursor.decode(got.next_cursor) if got.next_cursor else None
    if cursor is None:
        rows = (await conn.execute(first, {"customer_id": customer})).all()
    else:
        statement = before_query(customer, limit=PAGE + 1, before=cursor, body_limit=BODY_LIMIT)
        rows = (await conn.execute(statement)).all()
    entries = [_entry(r) for r in rows[:PAGE]]
    elapsed = time.perf_counter() - started
    last = entries[-1] if len(rows) > PAGE else None
    return elapsed, (Cursor(at=last.at, id=last.id, kind=last.kind) if last is not None else None)


async def db_cost(conn: AsyncConnection, build: Build, customer: str, cursor: Cursor | None,
                  backend: int) -> tuple[float, int, float, float]:
    """The database's side of one page: planning + execution ms (``EXPLAIN ANALYZE`` without
    per-node timing, so nearly free), the shared buffers it touched (hit or read), a figure
    the machine's load does not move, and the ms the backend spent on a core and waiting for
    one during the statement."""
    sql = str(build(customer, limit=PAGE + 1, before=cursor, body_limit=BODY_LIMIT).compile(
        dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN (ANALYZE, TIMING OFF, BUFFERS, FORMAT JSON) "
    on_cpu, waiting = scheduled_ns(backend)
    raw = (await conn.execute(text(explain + sql))).scalar_one()
    on_cpu_after, waiting_after = scheduled_ns(backend)
    top = (json.loads(raw) if isinstance(raw, str) else raw)[0]
    plan = top["Plan"]
    return (top["Planning Time"] + top["Execution Time"],
            plan["Shared Hit Blocks"] + plan["Shared Read Blocks"] + top.get("Planning", {}).get(
                "Shared Hit Blocks", 0) + top.get("Planning", {}).get("Shared Read Blocks", 0),
            (on_cpu_after - on_cpu) / 1e6, (waiting_after - waiting) / 1e6)


async def measure(args: argparse.Namespace, url: str, statements: dict[str, Build]) -> None:
    rnd = random.Random(args.seed)
    engine = create_async_engine(url, pool_size=1)
    firsts = {name: build(bindparam("customer_id", type_=String), limit=PAGE + 1, before=None,
                          body_limit=BODY_LIMIT) for name, build in statements.items()}
    try:
        async with engine.connect() as conn:
            roots = await classes(conn, rnd)
            await explain(conn, statements, roots["heaviest"][0], roots["light"][0])
            figures: dict[str, list[float]] = {}
            backend = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            cpu: dict[str, list[float]] = {}  # key -> [bench CPU s, PostgreSQL backend CPU s, pages]
            for run in range(args.runs):
                for cls in ("light", "medium", "heavy", "merged"):
                    times: dict[str, list[float]] = {}
                    for k in range(args.samples):
                        customer = rnd.choice(roots[cls])
                        names = list(statements) if k % 2 == 0 else list(reversed(statements))
                        for name in names:
                            cursor = None
                            for which in ("first", "next"):
                                mine, theirs = time.thread_time(), cpu_seconds(backend)
                                took, after = await page(conn, name, firsts[name], customer, cursor)
                                spent = cpu.setdefault(f"{name}_{cls}_{which}", [0.0, 0.0, 0])
                                spent[0] += time.thread_time() - mine
                                spent[1] += cpu_seconds(backend) - theirs
                                spent[2] += 1
                                times.setdefault(f"{name}_{cls}_{which}", []).append(took * 1000)
                                db_ms, buffers, on_cpu_ms, waiting_ms = await db_cost(
                                    conn, statements[name], customer, cursor, backend)
                                times.setdefault(f"{name}_{cls}_{which}_db", []).append(db_ms)
                                times.setdefault(f"{name}_{cls}_{which}_buffers", []).append(buffers)
                                times.setdefault(f"{name}_{cls}_{which}_db_oncpu", []).append(on_cpu_ms)
                                times.setdefault(f"{name}_{cls}_{which}_db_waiting", []).append(waiting_ms)
                                if after is None:
                                    break
                                cursor = after
                    for key, (client, server, pages) in cpu.items():
                        figures.setdefault(f"{key}_cpu_bench_mean", []).append(client * 1000 / pages)
                        figures.setdefault(f"{key}_cpu_postgres_mean", []).append(server * 1000 / pages)
                    cpu.clear()
                    for key, values in times.items():
                        values.sort()
                        for q, v in (("p50", percentile(values, 0.5)), ("p99", percentile(values, 0.99)),
                                     ("max", values[-1])):
                            figures.setdefault(f"{key}_{q}", []).append(v)
                log(f"run {run + 1} of {args.runs} done")
    finally:
        await engine.dispose()
    for key, values in figures.items():
        unit = "" if "_buffers_" in key else "_ms"
        emit(f"history_{key}{unit}_min", min(values))
        emit(f"history_{key}{unit}_median", statistics.median(values))
    if len(statements) == 2:
        for key in sorted(k.removeprefix("now_") for k in figures
                          if k.startswith("now_") and k.endswith("p99") and "_buffers_" not in k):
            before, now = figures.get(f"before_{key}"), figures[f"now_{key}"]
            if before:
                emit(f"history_{key.removesuffix('_p99')}_p99_ratio",
                     statistics.median(before) / statistics.median(now))


async def explain(conn: AsyncConnection, statements: dict[str, Build], heavy: str, light: str) -> None:
    for who, customer in (("heaviest", heavy), ("light", light)):
        for name, build in statements.items():
            sql = str(build(customer, limit=PAGE + 1, before=None, body_limit=BODY_LIMIT).compile(
                dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            plan = (await conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql))).scalars().all()
            print(f"# EXPLAIN (ANALYZE, BUFFERS), {name} statement, {who} root {customer}:", flush=True)
            for line in plan:
                print(f"#   {line}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench history", description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL (a fresh schema is used)")
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=None, help="default: messages / 20")
    parser.add_argument("--interactions", type=int, default=None, help="default: messages / 5")
    parser.add_argument("--samples", type=int, default=500, help="customers per class and run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--revision", default="head", help="migrate the schema to this revision only")
    parser.add_argument("--keep", action="store_true", help="keep the schema (its name is printed)")
    parser.add_argument("--schema", default=None, help="measure a kept schema; no seeding")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    schema = args.schema or f"benchhist{uuid.uuid4().hex[:8]}"
    emit("history_schema", schema)
    try:
        if args.schema is None:
            create_and_seed(args, schema)
        with psycopg.connect(libpq(schema_url(args.pg_url, schema))) as conn:
            has_roots = conn.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = 'messages' AND column_name = 'root_customer_id'").fetchone()[0]  # type: ignore[index]
        statements = STATEMENTS if has_roots else {"before": before_query}
        asyncio.run(measure(args, schema_url(args.pg_url, schema), statements))
    finally:
        if not args.keep and args.schema is None:
            with psycopg.connect(libpq(args.pg_url), autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            log(f"schema {schema} dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
