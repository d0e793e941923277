"""`sqlite:///path`: stdlib sqlite3 in WAL mode, run off the trio thread.

One connection, used by one worker thread at a time (a trio.Lock around every
`to_thread.run_sync`). A batch is ONE statement: the snapshots travel as a single JSON
array parameter expanded by `json_each`, the SQLite twin of Postgres' `unnest` (no
per-row statements, no bound-variable limit).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import trio

from presence_actors.model import PresenceRecord
from presence_actors.ports import DirectoryData

from ..backend import Trace, stored_status
from ..directory_file import DirectoryImport, first_unknown
from ..schema import CREATE_MIGRATIONS_TABLE, missing
from ..timestamps import from_sqlite_text, to_sqlite_text

T = TypeVar("T")
_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"

UPSERT = f"""
INSERT INTO user_presence (user_id, status, last_seen, updated_at)
SELECT json_extract(s.value, '$[0]'), json_extract(s.value, '$[1]'),
       json_extract(s.value, '$[2]'), {_NOW}
FROM json_each(?1) AS s
WHERE json_extract(s.value, '$[0]') IN (SELECT id FROM users)
ON CONFLICT (user_id) DO UPDATE
SET status = excluded.status, last_seen = excluded.last_seen, updated_at = excluded.updated_at
RETURNING user_id"""

MARK_OFFLINE = f"""
UPDATE user_presence SET status = 'offline', updated_at = {_NOW} WHERE status <> 'offline'"""

FETCH = """
SELECT user_id, status, last_seen FROM user_presence
WHERE user_id IN (SELECT value FROM json_each(?1))"""


class SQLiteBackend:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = trio.Lock()

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            return await trio.to_thread.run_sync(fn, self._conn)

    async def migrate(self) -> list[int]:
        return await self._run(_migrate)

    async def mark_all_offline(self) -> int:
        return await self._run(lambda c: c.execute(MARK_OFFLINE).rowcount)

    async def upsert(self, batch: Sequence[PresenceRecord]) -> set[int]:
        payload = json.dumps(
            [[r.user_id, r.status.value, to_sqlite_text(r.last_seen)] for r in batch]
        )

        def write(conn: sqlite3.Connection) -> set[int]:
            return {row[0] for row in conn.execute(UPSERT, (payload,)).fetchall()}

        return await self._run(write)

    async def fetch_presence(self, user_ids: Sequence[int]) -> list[PresenceRecord]:
        ids = json.dumps(list(user_ids))
        rows = await self._run(lambda c: c.execute(FETCH, (ids,)).fetchall())
        return [PresenceRecord(u, stored_status(s), from_sqlite_text(t)) for u, s, t in rows]

    async def fetch_directory(self) -> DirectoryData:
        return await self._run(_fetch_directory)

    async def import_directory(self, doc: DirectoryImport) -> None:
        await self._run(lambda c: _in_transaction(c, lambda: _import(c, doc)))

    async def ping(self) -> None:
        await self._run(lambda c: c.execute("SELECT 1").fetchall())


def _in_transaction(conn: sqlite3.Connection, fn: Callable[[], T], begin: str = "BEGIN") -> T:
    conn.execute(begin)
    try:
        result = fn()
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _migrate(conn: sqlite3.Connection) -> list[int]:
    def apply() -> list[int]:
        conn.execute(CREATE_MIGRATIONS_TABLE)
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        todo = missing(applied)
        for migration in todo:
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                (migration.version, migration.name),
            )
        return [m.version for m in todo]

    # BEGIN IMMEDIATE takes the write lock first: a second process waits (busy_timeout).
    return _in_transaction(conn, apply, "BEGIN IMMEDIATE")


def _fetch_directory(conn: sqlite3.Connection) -> DirectoryData:
    def read() -> DirectoryData:
        users = dict(conn.execute("SELECT id, display_name FROM users"))
        pairs = frozenset(conn.execute("SELECT user_a, user_b FROM partnerships"))
        members: dict[int, set[int]] = {}
        for cid, uid in conn.execute("SELECT circle_id, user_id FROM social_circle_members"):
            members.setdefault(cid, set()).add(uid)
        circles = {
            cid: (name, frozenset(members.get(cid, ())))
            for cid, name in conn.execute("SELECT id, name FROM social_circles")
        }
        parts: dict[int, set[int]] = {}
        sql = "SELECT conversation_id, user_id FROM conversation_participants"
        for cid, uid in conn.execute(sql):
            parts.setdefault(cid, set()).add(uid)
        conversations = {
            cid: frozenset(parts.get(cid, ()))
            for (cid,) in conn.execute("SELECT id FROM conversations")
        }
        return DirectoryData(users, pairs, circles, conversations)

    return _in_transaction(conn, read)  # one snapshot across the five reads


def _import(conn: sqlite3.Connection, doc: DirectoryImport) -> None:
    conn.executemany(
        "INSERT INTO users (id, display_name) VALUES (?, ?) "
        "ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name",
        [(uid, name) for uid, name in doc.users if name is not None],
    )
    conn.executemany(
        "INSERT INTO users (id) VALUES (?) ON CONFLICT (id) DO NOTHING",
        [(uid,) for uid, name in doc.users if name is None],
    )
    # Checked after the users are written, so a bad reference rolls real writes back.
    ids = json.dumps(sorted({uid for _, uid in doc.references}))
    existing = {
        r[0]
        for r in conn.execute(
            "SELECT id FROM users WHERE id IN (SELECT value FROM json_each(?))", (ids,)
        )
    }
    error = first_unknown(doc, existing)
    if error is not None:
        raise error
    conn.executemany(
        "INSERT INTO partnerships (user_a, user_b) VALUES (?, ?) ON CONFLICT DO NOTHING",
        doc.partnerships,
    )
    conn.executemany(
        "INSERT INTO social_circles (id, name) VALUES (?, ?) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        [(cid, name) for cid, name, _ in doc.circles],
    )
    _replace_groups(conn, "social_circle_members", "circle_id", [(c, m) for c, _, m in doc.circles])
    conn.executemany(
        "INSERT INTO conversations (id) VALUES (?) ON CONFLICT DO NOTHING",
        [(cid,) for cid, _ in doc.conversations],
    )
    _replace_groups(conn, "conversation_participants", "conversation_id", doc.conversations)


def _replace_groups(conn: sqlite3.Connection, table: str, key: str, groups: Sequence) -> None:
    """Give each named group exactly the listed members (the groups exist already)."""
    conn.executemany(f"DELETE FROM {table} WHERE {key} = ?", [(gid,) for gid, _ in groups])
    rows = [(gid, uid) for gid, members in groups for uid in members]
    conn.executemany(f"INSERT INTO {table} ({key}, user_id) VALUES (?, ?)", rows)


def _connect(path: Path, busy_timeout: float, trace: Trace | None) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        if trace is not None:
            conn.set_trace_callback(trace)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


@asynccontextmanager
async def open_sqlite(
    path: Path, *, busy_timeout: float = 5.0, trace: Trace | None = None
) -> AsyncIterator[SQLiteBackend]:
    conn = await trio.to_thread.run_sync(_connect, path, busy_timeout, trace)
    try:
        yield SQLiteBackend(conn)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(conn.close)
