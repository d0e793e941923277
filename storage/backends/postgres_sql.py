"""The Postgres backend's statements and transactions: plain asyncpg, run on its thread.

Each coroutine function here takes a connection first and is one statement or one
transaction; `postgres.PostgresBackend` hands them to the database thread.
"""

from __future__ import annotations

import zlib

import asyncpg

from presence_actors.ports import DirectoryData

from ..directory_file import DirectoryImport, first_unknown
from ..schema import CREATE_MIGRATIONS_TABLE, missing

# pg_advisory_xact_lock key: stable, and specific to this schema.
MIGRATION_LOCK = zlib.crc32(b"presence-actors schema_migrations")

# One statement per batch. `s` keeps the batch's users that exist; the insert skips a
# snapshot older than the stored row (last_seen never moves backwards, SPEC §13). The
# result is one row: the known users and the users written.
UPSERT = """
WITH s AS (
    SELECT s.user_id, s.status, s.last_seen
    FROM unnest($1::int[], $2::text[], $3::timestamp[]) AS s(user_id, status, last_seen)
    WHERE s.user_id IN (SELECT id FROM users)
), written AS (
    INSERT INTO user_presence (user_id, status, last_seen, updated_at)
    SELECT user_id, status, last_seen, LOCALTIMESTAMP FROM s
    ON CONFLICT (user_id) DO UPDATE
    SET status = EXCLUDED.status, last_seen = EXCLUDED.last_seen, updated_at = EXCLUDED.updated_at
    WHERE user_presence.last_seen <= EXCLUDED.last_seen
    RETURNING user_id
)
SELECT array(SELECT user_id FROM s), array(SELECT user_id FROM written)"""

MARK_OFFLINE = """
UPDATE user_presence SET status = 'offline', updated_at = LOCALTIMESTAMP
WHERE status <> 'offline' AND updated_at < $2
  AND NOT EXISTS (SELECT 1 FROM unnest($1::int[]) AS k(id) WHERE k.id = user_presence.user_id)"""

FETCH = """
SELECT user_id, status, last_seen FROM user_presence WHERE user_id = ANY($1::int[])"""

DIRECTORY_VERSION = "SELECT version FROM directory_version WHERE id = 1"

_CIRCLES = """
SELECT c.id, c.name, coalesce(array_agg(m.user_id) FILTER (WHERE m.user_id IS NOT NULL), '{}')
FROM social_circles c LEFT JOIN social_circle_members m ON m.circle_id = c.id GROUP BY c.id"""

_CONVERSATIONS = """
SELECT c.id, coalesce(array_agg(p.user_id) FILTER (WHERE p.user_id IS NOT NULL), '{}')
FROM conversations c LEFT JOIN conversation_participants p ON p.conversation_id = c.id
GROUP BY c.id"""


async def upsert(conn: asyncpg.Connection, chunks: list[tuple]) -> tuple[frozenset, list]:
    """Each (ids, statuses, last_seens) chunk is one UPSERT statement, all in one
    transaction; the users known and the users written."""
    if len(chunks) == 1:  # one statement is a transaction already: no BEGIN/COMMIT trips
        known, written = await conn.fetchrow(UPSERT, *chunks[0])
        return frozenset(known), written
    known_all: set[int] = set()
    written_all: list[int] = []
    async with conn.transaction():
        for ids, statuses, seen in chunks:
            known, written = await conn.fetchrow(UPSERT, ids, statuses, seen)
            known_all.update(known)
            written_all += written
    return frozenset(known_all), written_all


async def migrate(conn: asyncpg.Connection) -> list[int]:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(CREATE_MIGRATIONS_TABLE)
        applied = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        todo = missing(applied)
        for migration in todo:
            for statement in migration.statements_for("postgres"):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
        return [m.version for m in todo]


async def fetch_directory(conn: asyncpg.Connection) -> DirectoryData:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        users = {r[0]: r[1] for r in await conn.fetch("SELECT id, display_name FROM users")}
        pairs = frozenset(
            (r[0], r[1]) for r in await conn.fetch("SELECT user_a, user_b FROM partnerships")
        )
        circles = {r[0]: (r[1], frozenset(r[2])) for r in await conn.fetch(_CIRCLES)}
        conversations = {r[0]: frozenset(r[1]) for r in await conn.fetch(_CONVERSATIONS)}
    return DirectoryData(users, pairs, circles, conversations)


async def import_directory(
    conn: asyncpg.Connection, doc: DirectoryImport, replace: bool
) -> dict[str, int]:
    """One transaction: (with `replace`) remove what the file does not name, then upsert."""
    if replace:
        error = first_unknown(doc, set())  # nothing outside the file will remain
        if error is not None:
            raise error
    async with conn.transaction():
        removed = await _remove_unnamed(conn, doc) if replace else {}
        await _upsert_users(conn, doc)
        if not replace:
            # Checked after the users are written, so a bad reference rolls real writes back.
            referenced = sorted({uid for _, uid in doc.references})
            found = await conn.fetch("SELECT id FROM users WHERE id = ANY($1::int[])", referenced)
            error = first_unknown(doc, {r[0] for r in found})
            if error is not None:
                raise error
        await _upsert_relations(conn, doc)
    return removed


async def _upsert_users(conn: asyncpg.Connection, doc: DirectoryImport) -> None:
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


async def _upsert_relations(conn: asyncpg.Connection, doc: DirectoryImport) -> None:
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
    await _replace_groups(conn, "conversation_participants", "conversation_id", doc.conversations)


async def _replace_groups(conn: asyncpg.Connection, table: str, key: str, groups) -> None:
    """Give each named group exactly the listed members (the groups exist already)."""
    await conn.execute(f"DELETE FROM {table} WHERE {key} = ANY($1::int[])", [g for g, _ in groups])
    rows = [(gid, uid) for gid, members in groups for uid in members]
    await conn.execute(
        f"INSERT INTO {table} ({key}, user_id) SELECT * FROM unnest($1::int[], $2::int[])",
        [g for g, _ in rows],
        [u for _, u in rows],
    )


def _not_in(column: str) -> str:
    return f"NOT EXISTS (SELECT 1 FROM unnest($1::int[]) AS k(id) WHERE k.id = {column})"


async def _remove_unnamed(conn: asyncpg.Connection, doc: DirectoryImport) -> dict[str, int]:
    """Delete every user, partnership, circle and conversation the file does not name.

    A removed user's presence row goes too (it references users); their memberships and
    partnerships go by ON DELETE CASCADE.
    """
    users = [uid for uid, _ in doc.users]

    async def delete(sql: str, *args) -> int:
        return int((await conn.execute(sql, *args)).split()[-1])

    await delete(f"DELETE FROM user_presence WHERE {_not_in('user_presence.user_id')}", users)
    pairs = await delete(
        "DELETE FROM partnerships p WHERE NOT EXISTS (SELECT 1 FROM unnest($1::int[], $2::int[])"
        " AS k(a, b) WHERE k.a = p.user_a AND k.b = p.user_b)",
        [a for a, _ in doc.partnerships],
        [b for _, b in doc.partnerships],
    )
    return {
        "users": await delete(f"DELETE FROM users WHERE {_not_in('users.id')}", users),
        "partnerships": pairs,
        "circles": await delete(
            f"DELETE FROM social_circles WHERE {_not_in('social_circles.id')}",
            [c for c, _, _ in doc.circles],
        ),
        "conversations": await delete(
            f"DELETE FROM conversations WHERE {_not_in('conversations.id')}",
            [c for c, _ in doc.conversations],
        ),
    }
