"""`postgresql://`: asyncpg through trio-asyncio, a connection pool, one loop.

`open_postgres` opens the trio-asyncio loop itself, so the task that enters it (the
storage actor) owns the loop, and every call below crosses into asyncio once per
operation (each crossing costs ~30 µs, so a batch or a transaction is one crossing).
Sessions run with `timezone = 'UTC'`: TIMESTAMP columns hold UTC.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
import trio
import trio_asyncio

from presence_actors.model import PresenceRecord
from presence_actors.ports import DirectoryData

from ..backend import Trace, stored_status
from ..directory_file import DirectoryImport, first_unknown
from ..schema import CREATE_MIGRATIONS_TABLE, missing
from ..timestamps import from_naive_utc, to_naive_utc

log = logging.getLogger("storage")

# pg_advisory_xact_lock key: stable, and specific to this schema.
MIGRATION_LOCK = zlib.crc32(b"presence-actors schema_migrations")

UPSERT = """
INSERT INTO user_presence (user_id, status, last_seen, updated_at)
SELECT s.user_id, s.status, s.last_seen, LOCALTIMESTAMP
FROM unnest($1::int[], $2::text[], $3::timestamp[]) AS s(user_id, status, last_seen)
WHERE s.user_id IN (SELECT id FROM users)
ON CONFLICT (user_id) DO UPDATE
SET status = EXCLUDED.status, last_seen = EXCLUDED.last_seen, updated_at = EXCLUDED.updated_at
RETURNING user_id"""

MARK_OFFLINE = """
UPDATE user_presence SET status = 'offline', updated_at = LOCALTIMESTAMP
WHERE status <> 'offline'"""

FETCH = """
SELECT user_id, status, last_seen FROM user_presence WHERE user_id = ANY($1::int[])"""

_CIRCLES = """
SELECT c.id, c.name, coalesce(array_agg(m.user_id) FILTER (WHERE m.user_id IS NOT NULL), '{}')
FROM social_circles c LEFT JOIN social_circle_members m ON m.circle_id = c.id GROUP BY c.id"""

_CONVERSATIONS = """
SELECT c.id, coalesce(array_agg(p.user_id) FILTER (WHERE p.user_id IS NOT NULL), '{}')
FROM conversations c LEFT JOIN conversation_participants p ON p.conversation_id = c.id
GROUP BY c.id"""


class PostgresBackend:
    def __init__(self, pool: asyncpg.Pool, loop: object) -> None:
        self._pool = pool
        self._loop = loop

    async def _run(self, fn, *args):
        """Run an asyncio coroutine function with a pooled connection: one crossing."""

        async def with_connection():
            async with self._pool.acquire() as conn:
                return await fn(conn, *args)

        return await trio_asyncio.aio_as_trio(with_connection, loop=self._loop)()

    async def migrate(self) -> list[int]:
        return await self._run(_migrate)

    async def mark_all_offline(self) -> int:
        status = await self._run(lambda conn: conn.execute(MARK_OFFLINE))
        return int(status.split()[-1])

    async def upsert(self, batch: Sequence[PresenceRecord]) -> set[int]:
        ids = [r.user_id for r in batch]
        statuses = [r.status.value for r in batch]
        seen = [to_naive_utc(r.last_seen) for r in batch]
        rows = await self._run(lambda conn: conn.fetch(UPSERT, ids, statuses, seen))
        return {row[0] for row in rows}

    async def fetch_presence(self, user_ids: Sequence[int]) -> list[PresenceRecord]:
        rows = await self._run(lambda conn: conn.fetch(FETCH, list(user_ids)))
        return [PresenceRecord(u, stored_status(s), from_naive_utc(t)) for u, s, t in rows]

    async def fetch_directory(self) -> DirectoryData:
        return await self._run(_fetch_directory)

    async def import_directory(self, doc: DirectoryImport) -> None:
        await self._run(_import, doc)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.fetchval("SELECT 1"))


async def _migrate(conn: asyncpg.Connection) -> list[int]:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(CREATE_MIGRATIONS_TABLE)
        applied = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        todo = missing(applied)
        for migration in todo:
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
        return [m.version for m in todo]


async def _fetch_directory(conn: asyncpg.Connection) -> DirectoryData:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        users = {r[0]: r[1] for r in await conn.fetch("SELECT id, display_name FROM users")}
        pairs = frozenset(
            (r[0], r[1]) for r in await conn.fetch("SELECT user_a, user_b FROM partnerships")
        )
        circles = {r[0]: (r[1], frozenset(r[2])) for r in await conn.fetch(_CIRCLES)}
        conversations = {r[0]: frozenset(r[1]) for r in await conn.fetch(_CONVERSATIONS)}
    return DirectoryData(users, pairs, circles, conversations)


async def _import(conn: asyncpg.Connection, doc: DirectoryImport) -> None:
    async with conn.transaction():
        named = [(uid, name) for uid, name in doc.users if name is not None]
        await conn.execute(
            "INSERT INTO users (id, display_name) SELECT * FROM unnest($1::int[], $2::text[]) "
            "ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name",
            [u for u, _ in named],
            [n for _, n in named],
        )
        await conn.execute(
            "INSERT INTO users (id) SELECT unnest($1::int[]) ON CONFLICT (id) DO NOTHING",
            [uid for uid, name in doc.users if name is None],
        )
        # Checked after the users are written, so a bad reference rolls real writes back.
        referenced = sorted({uid for _, uid in doc.references})
        found = await conn.fetch("SELECT id FROM users WHERE id = ANY($1::int[])", referenced)
        error = first_unknown(doc, {r[0] for r in found})
        if error is not None:
            raise error
        await conn.execute(
            "INSERT INTO partnerships (user_a, user_b) "
            "SELECT * FROM unnest($1::int[], $2::int[]) ON CONFLICT DO NOTHING",
            [a for a, _ in doc.partnerships],
            [b for _, b in doc.partnerships],
        )
        await conn.execute(
            "INSERT INTO social_circles (id, name) SELECT * FROM unnest($1::int[], $2::text[]) "
            "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
            [c for c, _, _ in doc.circles],
            [n for _, n, _ in doc.circles],
        )
        await _replace_groups(
            conn, "social_circle_members", "circle_id", [(c, m) for c, _, m in doc.circles]
        )
        await conn.execute(
            "INSERT INTO conversations (id) SELECT unnest($1::int[]) ON CONFLICT DO NOTHING",
            [cid for cid, _ in doc.conversations],
        )
        await _replace_groups(
            conn, "conversation_participants", "conversation_id", doc.conversations
        )


async def _replace_groups(conn: asyncpg.Connection, table: str, key: str, groups) -> None:
    """Give each named group exactly the listed members (the groups exist already)."""
    await conn.execute(f"DELETE FROM {table} WHERE {key} = ANY($1::int[])", [g for g, _ in groups])
    rows = [(gid, uid) for gid, members in groups for uid in members]
    await conn.execute(
        f"INSERT INTO {table} ({key}, user_id) SELECT * FROM unnest($1::int[], $2::int[])",
        [g for g, _ in rows],
        [u for _, u in rows],
    )


async def _close_pool(pool: asyncpg.Pool, loop: object, timeout: float) -> None:
    with trio.CancelScope(shield=True):
        with trio.move_on_after(timeout) as scope:
            await trio_asyncio.aio_as_trio(pool.close, loop=loop)()
        if scope.cancelled_caught:
            pool.terminate()


def _log_asyncio_error(loop: object, context: dict) -> None:
    """Log what asyncio reports (e.g. asyncpg's "Future exception was never retrieved" when
    a connection dies). trio-asyncio's default handler re-raises it into the loop's
    nursery, which would crash the storage actor in the middle of an outage it survives."""
    log.warning(
        "asyncio in the storage loop: %s", context.get("message"), exc_info=context.get("exception")
    )


@asynccontextmanager
async def open_postgres(
    dsn: str,
    *,
    pool_size: int = 4,
    connect_timeout: float = 10.0,
    trace: Trace | None = None,
) -> AsyncIterator[PostgresBackend]:
    """Open the loop (owned by the calling task) and a pool inside it."""

    async def init(conn: asyncpg.Connection) -> None:
        if trace is not None:
            conn.add_query_logger(lambda record: trace(record.query))

    async with trio_asyncio.open_loop() as loop:
        loop.set_exception_handler(_log_asyncio_error)
        create = trio_asyncio.aio_as_trio(asyncpg.create_pool, loop=loop)
        pool = await create(
            dsn,
            min_size=1,
            max_size=pool_size,
            timeout=connect_timeout,
            init=init,
            server_settings={"timezone": "UTC", "application_name": "presence-actors"},
        )
        try:
            yield PostgresBackend(pool, loop)
        finally:
            await _close_pool(pool, loop, connect_timeout)
