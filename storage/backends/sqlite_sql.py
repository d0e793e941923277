"""The SQLite backend's statements and transactions: plain sqlite3, run in a worker thread."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import TypeVar

from presence_actors.ports import DirectoryData

from ..backend import Upserted
from ..directory_file import DirectoryImport, first_unknown
from ..schema import CREATE_MIGRATIONS_TABLE, missing

T = TypeVar("T")
NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
CLOCK = f"SELECT {NOW}"

# Skips users not in `users`, and a snapshot older than the stored row (last_seen never
# moves backwards, SPEC §13); RETURNING names the rows written.
UPSERT = f"""
INSERT INTO user_presence (user_id, status, last_seen, updated_at)
SELECT json_extract(s.value, '$[0]'), json_extract(s.value, '$[1]'),
       json_extract(s.value, '$[2]'), {NOW}
FROM json_each(?1) AS s
WHERE json_extract(s.value, '$[0]') IN (SELECT id FROM users)
ON CONFLICT (user_id) DO UPDATE
SET status = excluded.status, last_seen = excluded.last_seen, updated_at = excluded.updated_at
WHERE user_presence.last_seen <= excluded.last_seen
RETURNING user_id"""

UNKNOWN = """
SELECT json_extract(s.value, '$[0]') FROM json_each(?1) AS s
WHERE json_extract(s.value, '$[0]') NOT IN (SELECT id FROM users)"""

MARK_OFFLINE = f"""
UPDATE user_presence SET status = 'offline', updated_at = {NOW}
WHERE status <> 'offline' AND updated_at < ?2
  AND user_id NOT IN (SELECT value FROM json_each(?1))"""

FETCH = """
SELECT user_id, status, last_seen FROM user_presence
WHERE user_id IN (SELECT value FROM json_each(?1))"""

DIRECTORY_VERSION = "SELECT version FROM directory_version WHERE id = 1"


def in_transaction(conn: sqlite3.Connection, fn: Callable[[], T], begin: str = "BEGIN") -> T:
    conn.execute(begin)
    try:
        result = fn()
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def upsert(conn: sqlite3.Connection, payloads: list[str]) -> Upserted:
    """Each JSON payload is one UPSERT statement (the caller holds a transaction)."""
    unknown: set[int] = set()
    written: set[int] = set()
    for payload in payloads:
        unknown.update(row[0] for row in conn.execute(UNKNOWN, (payload,)))
        written.update(row[0] for row in conn.execute(UPSERT, (payload,)))
    return Upserted(frozenset(written), frozenset(unknown))


def migrate(conn: sqlite3.Connection) -> list[int]:
    def apply() -> list[int]:
        conn.execute(CREATE_MIGRATIONS_TABLE)
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        todo = missing(applied)
        for migration in todo:
            for statement in migration.statements_for("sqlite"):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                (migration.version, migration.name),
            )
        return [m.version for m in todo]

    # BEGIN IMMEDIATE takes the write lock first: a second process waits (busy_timeout).
    return in_transaction(conn, apply, "BEGIN IMMEDIATE")


def fetch_directory(conn: sqlite3.Connection) -> DirectoryData:
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

    return in_transaction(conn, read)  # one snapshot across the five reads


def import_directory(conn: sqlite3.Connection, doc: DirectoryImport, replace: bool) -> dict:
    """One transaction: (with `replace`) remove what the file does not name, then upsert."""
    if replace:
        error = first_unknown(doc, set())  # nothing outside the file will remain
        if error is not None:
            raise error

    def run() -> dict[str, int]:
        removed = _remove_unnamed(conn, doc) if replace else {}
        _upsert(conn, doc, check_references=not replace)
        return removed

    return in_transaction(conn, run)


def _upsert(conn: sqlite3.Connection, doc: DirectoryImport, check_references: bool) -> None:
    conn.executemany(
        "INSERT INTO users (id, display_name) VALUES (?, ?) "
        "ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name",
        [(uid, name) for uid, name in doc.users if name is not None],
    )
    conn.executemany(
        "INSERT INTO users (id) VALUES (?) ON CONFLICT (id) DO NOTHING",
        [(uid,) for uid, name in doc.users if name is None],
    )
    if check_references:
        _check_references(conn, doc)
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


def _check_references(conn: sqlite3.Connection, doc: DirectoryImport) -> None:
    """Checked after the users are written, so a bad reference rolls real writes back."""
    ids = json.dumps(sorted({uid for _, uid in doc.references}))
    sql = "SELECT id FROM users WHERE id IN (SELECT value FROM json_each(?))"
    error = first_unknown(doc, {r[0] for r in conn.execute(sql, (ids,))})
    if error is not None:
        raise error


def _replace_groups(conn: sqlite3.Connection, table: str, key: str, groups: Sequence) -> None:
    """Give each named group exactly the listed members (the groups exist already)."""
    conn.executemany(f"DELETE FROM {table} WHERE {key} = ?", [(gid,) for gid, _ in groups])
    rows = [(gid, uid) for gid, members in groups for uid in members]
    conn.executemany(f"INSERT INTO {table} ({key}, user_id) VALUES (?, ?)", rows)


def _remove_unnamed(conn: sqlite3.Connection, doc: DirectoryImport) -> dict[str, int]:
    """Delete every user, partnership, circle and conversation the file does not name.

    A removed user's presence row goes too (it references users); their memberships go
    by ON DELETE CASCADE.
    """

    def delete(table: str, column: str, ids: Sequence[int]) -> int:
        sql = f"DELETE FROM {table} WHERE {column} NOT IN (SELECT value FROM json_each(?))"
        return conn.execute(sql, (json.dumps(list(ids)),)).rowcount

    users = [uid for uid, _ in doc.users]
    delete("user_presence", "user_id", users)
    pairs = json.dumps([list(pair) for pair in doc.partnerships])
    removed_pairs = conn.execute(
        "DELETE FROM partnerships WHERE (user_a, user_b) NOT IN "
        "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))",
        (pairs,),
    ).rowcount
    return {
        "users": delete("users", "id", users),
        "partnerships": removed_pairs,
        "circles": delete("social_circles", "id", [c for c, _, _ in doc.circles]),
        "conversations": delete("conversations", "id", [c for c, _ in doc.conversations]),
    }
