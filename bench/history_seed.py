"""Seeding ``bench history``'s schema: customers, identities, merges, interactions, messages and
notes at scale, loaded with COPY (psycopg's copy API) in the order real data would arrive.

The shape, for ``messages`` messages (the other counts follow unless given):

* ``customers`` customers (default messages / 20): one in 10,000 is *heavy* (together 10 % of the
  interactions, spread unevenly by a Pareto draw, so the heaviest has tens of thousands of
  messages), one in 100 *medium* (20 %), the rest *light* (70 %: a few interactions each).
* 2 % of customers are merged into another customer (a few into heavy ones, some into customers
  merged already: chains); each merge has its ``merges`` row, and every interaction carries its
  tree's root, as the server keeps it. The timeline of a root shows its merged customers' history.
* ``interactions`` interactions (default messages / 5) over two years in arrival order, each with
  1 to 9 messages a minute or so apart (mean 5), one in four with a note; a phone identity per
  customer and an e-mail for every other one.

Everything is drawn from one ``random.Random(seed)``: the same arguments give the same data, so a
schema at another migration gets the same rows. Secondary indexes are dropped before the load and
built after it from their own definitions (faster than keeping them up to date row by row), and
the load runs with ``session_replication_role = replica`` so no trigger (foreign-key checks, the
0012 triggers: the bench writes ``root_customer_id`` itself) runs per row.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
from psycopg.copy import QueuedLibpqWriter

T_START = 1_735_689_600.0  # 2025-01-01
SPAN = 2 * 365 * 86_400.0
TABLES = ("customers", "identities", "merges", "interactions", "messages", "notes")
CHANNELS = ("voice", "chat", "chat", "email", "email", "sms", "x", "slack")
WORDS = ("order", "invoice", "refund", "delivery", "account", "password", "thanks", "please", "when",
         "broken", "again", "number", "help", "still", "waiting", "the", "my", "is", "not", "yes")
CHUNK = 1 << 20
# The columns each generator writes, in order (the tables' other columns are NULL or default).
COLUMNS = {
    "customers": ("id", "display_name", "created_at", "merged_into", "root_id"),
    "identities": ("kind", "value", "customer_id", "added_at"),
    "merges": ("id", "survivor_id", "merged_id", "reason", "actor", "at", "proof_kind", "proof_value"),
    "interactions": ("id", "customer_id", "root_customer_id", "channel", "direction", "queue", "state",
                     "priority", "skills", "arrived_at", "queued_at", "offered_at", "answered_at", "ended_at",
                     "agent_id", "disposition", "customer_left", "version"),
    "messages": ("id", "interaction_id", "sender", "body", "at", "agent_id", "channel_ref", "delivery",
                 "root_customer_id"),
    "notes": ("id", "interaction_id", "author_id", "body", "at", "root_customer_id"),
}


@dataclass(frozen=True, slots=True)
class Shape:
    messages: int
    customers: int
    interactions: int
    seed: int

    @classmethod
    def of(cls, messages: int, customers: int | None, interactions: int | None, seed: int) -> Shape:
        return cls(messages=messages, customers=customers or max(messages // 20, 100),
                   interactions=interactions or max(messages // 5, 100), seed=seed)


def seed(conn: psycopg.Connection, shape: Shape, *, log: Callable[[str], None]) -> dict[str, int]:
    """Load ``shape`` into the (migrated, empty) schema of ``conn``; returns rows per table."""
    columns = {t: _columns(conn, t) for t in TABLES}
    indexes = _secondary_indexes(conn)
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.execute("SET session_replication_role = replica")
    rnd = random.Random(shape.seed)
    counts: dict[str, int] = {}
    custs = _Customers(shape, rnd)
    for table, rows in (("customers", custs.rows()), ("identities", custs.identities()),
                        ("merges", custs.merge_rows())):
        counts[table] = _copy(conn, table, columns[table], COLUMNS[table], rows)
        log(f"{table}: {counts[table]} rows")
    events = _Events(shape, rnd, custs.owner_per_interaction(shape.interactions, rnd), custs.root)
    for table, rows in (("interactions", events.interactions()), ("messages", events.messages()),
                        ("notes", events.notes())):
        counts[table] = _copy(conn, table, columns[table], COLUMNS[table], rows)
        log(f"{table}: {counts[table]} rows")
    conn.execute("SET session_replication_role = DEFAULT")
    conn.execute("SET maintenance_work_mem = '512MB'")
    for name, definition in indexes:
        conn.execute(definition)
        log(f"index {name} built")
    return counts


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s ORDER BY ordinal_position", (table,))]


def _secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """Every index of the seeded tables that no constraint owns (primary keys stay)."""
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
        "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conname = i.indexname AND c.connamespace = current_schema()::regnamespace)",
        (list(TABLES),))]


def _copy(conn: psycopg.Connection, table: str, schema_columns: list[str], columns: tuple[str, ...],
          lines: Iterator[str]) -> int:
    """COPY text lines (fields in ``columns`` order, ``\\N`` for NULL). Columns the schema lacks
    (an older migration: ``root_customer_id`` of messages and notes) must come last and are cut."""
    missing = [c for c in columns if c not in schema_columns]
    if missing != list(columns[len(columns) - len(missing):]):
        raise RuntimeError(f"{table}: the schema lacks {missing}, which the bench cannot leave out")
    kept = columns[:len(columns) - len(missing)]
    n = 0
    buffer: list[str] = []
    size = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(kept)}) FROM STDIN",
                                        writer=QueuedLibpqWriter(cur)) as copy:
        for line in lines:
            if missing:
                line = line.rsplit("\t", len(missing))[0] + "\n"
            buffer.append(line)
            size += len(line)
            n += 1
            if size >= CHUNK:
                copy.write("".join(buffer))
                buffer.clear()
                size = 0
        if buffer:
            copy.write("".join(buffer))
    return n


class _Customers:
    def __init__(self, shape: Shape, rnd: random.Random) -> None:
        n = shape.customers
        self.ids = [f"cus-{k:020x}" for k in range(n)]
        heavy = max(1, n // 10_000)
        medium = max(1, n // 100)
        order = list(range(n))
        rnd.shuffle(order)
        self.heavy, self.medium = order[:heavy], order[heavy:heavy + medium]
        self.light = order[heavy + medium:]
        self.root = list(range(n))
        self.merged_into: dict[int, int] = {}
        merged = set(rnd.sample(self.light, min(len(self.light) // 2, n // 50)))
        candidates = [c for c in range(n) if c not in merged]
        for k, m in enumerate(sorted(merged)):
            # One in ten into a heavy customer; one in twenty into one merged already (a chain).
            if k % 10 == 0:
                survivor = rnd.choice(self.heavy)
            elif k % 20 == 1 and self.merged_into:
                survivor = rnd.choice(list(self.merged_into))
            else:
                survivor = rnd.choice(candidates)
            self.merged_into[m] = survivor
        if len(self.heavy) >= 2:  # and one heavy customer into another: the heaviest root there is
            self.merged_into[self.heavy[1]] = self.heavy[0]
        for m in self.merged_into:
            r = m
            while r in self.merged_into:
                r = self.merged_into[r]
            self.root[m] = r
        self.created = [T_START - rnd.random() * SPAN for _ in range(n)]

    def rows(self) -> Iterator[str]:
        for k, cid in enumerate(self.ids):
            into = self.merged_into.get(k)
            merged_into = self.ids[into] if into is not None else "\\N"
            yield f"{cid}\tCustomer {k}\t{self.created[k]!r}\t{merged_into}\t{self.ids[self.root[k]]}\n"

    def identities(self) -> Iterator[str]:
        for k, cid in enumerate(self.ids):
            at = repr(self.created[k])
            yield f"phone\t+1{2_000_000_000 + k}\t{cid}\t{at}\n"
            if k % 2 == 0:
                yield f"email\tc{k}@example.com\t{cid}\t{at}\n"

    def merge_rows(self) -> Iterator[str]:
        for k, (m, s) in enumerate(sorted(self.merged_into.items())):
            yield (f"mrg-{k:020x}\t{self.ids[s]}\t{self.ids[m]}\tsame person\tsupervisor-1\t{T_START + k!r}"
                   f"\tphone\t+1{2_000_000_000 + m}\n")

    def owner_per_interaction(self, total: int, rnd: random.Random) -> list[int]:
        """The customer of each interaction, in arrival order."""
        weights = [rnd.paretovariate(1.2) for _ in self.heavy]
        scale = 0.10 * total / sum(weights)
        owners: list[int] = []
        for c, w in zip(self.heavy, weights, strict=True):
            owners += [c] * max(1, int(w * scale))
        for group, share in ((self.medium, 0.20), (self.light, 0.70)):
            per = share * total / len(group)
            for c in group:
                owners += [c] * max(1, int(per * 2 * rnd.random() + 0.5))
        rnd.shuffle(owners)
        return owners


class _Events:
    def __init__(self, shape: Shape, rnd: random.Random, owners: list[int], root: list[int]) -> None:
        self.shape, self.rnd, self.owners, self.root = shape, rnd, owners, root
        self.step = SPAN / len(owners)
        self.bodies = [" ".join(rnd.choice(WORDS) for _ in range(rnd.randrange(3, 60))) for _ in range(256)]
        # Per interaction: its message count and channel, drawn once and shared by the generators.
        self.sizes = bytes(rnd.randrange(1, 10) for _ in owners)

    def interactions(self) -> Iterator[str]:
        for k, c in enumerate(self.owners):
            at = T_START + k * self.step
            direction = "outbound" if k % 7 == 0 else "inbound"
            yield (f"int-{k:020x}\tcus-{c:020x}\tcus-{self.root[c]:020x}\t{CHANNELS[k % len(CHANNELS)]}\t"
                   f"{direction}\tsupport\tclosed\t1\t{{}}\t{at!r}\t{at!r}\t{at + 20!r}\t{at + 25!r}\t"
                   f"{at + 600!r}\ta{k % 500}\tresolved\tf\t5\n")

    def messages(self) -> Iterator[str]:
        n = 0
        bodies = self.bodies
        for k, c in enumerate(self.owners):
            at, iid, root = T_START + k * self.step, f"int-{k:020x}", f"cus-{self.root[c]:020x}"
            email = CHANNELS[k % len(CHANNELS)] == "email"
            agent_id = f"a{k % 500}"
            for j in range(self.sizes[k]):
                mid = f"msg-{n:020x}"
                ref = f"<{mid}@mail.example>" if email else "\\N"
                head = f"{mid}\t{iid}"
                body = bodies[(n * 7919 + k) & 255]
                said = at + 30 + 60 * j
                if j % 2:
                    yield f"{head}\tagent\t{body}\t{said!r}\t{agent_id}\t{ref}\tsent\t{root}\n"
                else:
                    yield f"{head}\tcustomer\t{body}\t{said!r}\t\\N\t{ref}\t\\N\t{root}\n"
                n += 1

    def notes(self) -> Iterator[str]:
        for k, c in enumerate(self.owners):
            if k % 4 == 0:
                yield (f"not-{k:020x}\tint-{k:020x}\ta{k % 500}\t{self.bodies[k % 256][:120]}\t"
                       f"{T_START + k * self.step + 300!r}\tcus-{self.root[c]:020x}\n")
