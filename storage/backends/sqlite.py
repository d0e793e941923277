"""`sqlite:///path`: stdlib sqlite3 in WAL mode, run off the trio thread.

Two connections, each used by one worker thread at a time (a trio.Lock around every
`to_thread.run_sync`): one writes, one reads. In WAL mode readers never wait for a writer,
so a read keeps its short deadline while a write waits out another process' lock
(`busy_timeout`). A batch is ONE statement: the snapshots travel as a single JSON array
parameter expanded by `json_each`, the SQLite twin of Postgres' `unnest`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import trio

from presence_actors.model import PresenceRecord
from presence_actors.ports import DirectoryData

from ..backend import Trace, Upserted, stored_status
from ..directory_file import DirectoryImport
from ..timestamps import from_sqlite_text, to_sqlite_text
from . import sqlite_sql as sql

T = TypeVar("T")


class _Connection:
    """One sqlite3 connection, used by one worker thread at a time."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._lock = trio.Lock()

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            return await trio.to_thread.run_sync(fn, self.conn)


class SQLiteBackend:
    def __init__(self, writer: sqlite3.Connection, reader: sqlite3.Connection, opened_at: str):
        self._write = _Connection(writer).run
        self._read = _Connection(reader).run
        self._opened_at = opened_at  # the clock when this backend opened, as stored

    async def migrate(self) -> list[int]:
        return await self._write(sql.migrate)

    async def mark_offline(self, except_users: Collection[int]) -> int:
        keep = json.dumps(sorted(except_users))
        args = (keep, self._opened_at)
        return await self._write(lambda c: c.execute(sql.MARK_OFFLINE, args).rowcount)

    async def upsert(self, batch: Sequence[PresenceRecord], per_statement: int) -> Upserted:
        payloads = [
            json.dumps(
                [[r.user_id, r.status.value, to_sqlite_text(r.last_seen)] for r in part]
            )
            for part in (batch[i : i + per_statement] for i in range(0, len(batch), per_statement))
        ]

        def write(conn: sqlite3.Connection) -> Upserted:
            return sql.in_transaction(conn, lambda: sql.upsert(conn, payloads))

        return await self._write(write)

    async def fetch_presence(self, user_ids: Sequence[int]) -> list[PresenceRecord]:
        ids = json.dumps(list(user_ids))
        rows = await self._read(lambda c: c.execute(sql.FETCH, (ids,)).fetchall())
        return [PresenceRecord(u, stored_status(s), from_sqlite_text(t)) for u, s, t in rows]

    async def fetch_directory(self) -> DirectoryData:
        return await self._read(sql.fetch_directory)

    async def fetch_directory_version(self) -> int:
        return await self._read(lambda c: c.execute(sql.DIRECTORY_VERSION).fetchone()[0])

    async def import_directory(self, doc: DirectoryImport, replace: bool) -> dict[str, int]:
        return await self._write(lambda c: sql.import_directory(c, doc, replace))

    async def ping(self) -> None:
        await self._read(lambda c: c.execute("SELECT 1").fetchall())


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
    opened = []
    try:
        for _ in range(2):
            opened.append(await trio.to_thread.run_sync(_connect, path, busy_timeout, trace))
        writer, reader = opened
        opened_at = await trio.to_thread.run_sync(lambda: writer.execute(sql.CLOCK).fetchone()[0])
        yield SQLiteBackend(writer, reader, opened_at)
    finally:
        with trio.CancelScope(shield=True):
            for conn in opened:
                await trio.to_thread.run_sync(conn.close)
