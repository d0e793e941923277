"""`postgresql://`: asyncpg on a thread of its own (its own asyncio loop), a connection pool.

Every call below is one hand-off to that thread (`AsyncioThread.call`) holding one pooled
connection for one statement or one transaction. A call the storage actor gives up on
(its deadline passed) is cancelled there and its connection terminated, not reset: after a
cancelled query the connection's state is unknown, and resetting it would wait on the very
database that did not answer. Sessions run with `timezone = 'UTC'`: TIMESTAMP columns hold
UTC.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
import trio

from presence_actors.model import PresenceRecord
from presence_actors.ports import DirectoryData

from ..backend import Trace, Upserted, stored_status
from ..directory_file import DirectoryImport
from ..timestamps import from_naive_utc, to_naive_utc
from . import postgres_sql as sql
from .asyncio_thread import AsyncioThread

log = logging.getLogger("storage")


class PostgresBackend:
    def __init__(self, pool: asyncpg.Pool, thread: AsyncioThread, opened_at: datetime) -> None:
        self._pool = pool
        self._thread = thread
        self._opened_at = opened_at  # the database's clock when this backend opened

    async def _run(self, fn, *args):
        """`await fn(conn, *args)` with a pooled connection, on the database thread."""
        return await self._thread.call(_with_connection, self._pool, fn, args)

    async def migrate(self) -> list[int]:
        return await self._run(sql.migrate)

    async def mark_offline(self, except_users: Collection[int]) -> int:
        keep = sorted(except_users)
        status = await self._run(
            lambda conn: conn.execute(sql.MARK_OFFLINE, keep, self._opened_at)
        )
        return int(status.split()[-1])

    async def upsert(self, batch: Sequence[PresenceRecord], per_statement: int) -> Upserted:
        known, written = await self._run(_upsert_batch, list(batch), per_statement)
        return Upserted(frozenset(written), frozenset(r.user_id for r in batch) - known)

    async def fetch_presence(self, user_ids: Sequence[int]) -> list[PresenceRecord]:
        rows = await self._run(lambda conn: conn.fetch(sql.FETCH, list(user_ids)))
        return [PresenceRecord(u, stored_status(s), from_naive_utc(t)) for u, s, t in rows]

    async def fetch_directory(self) -> DirectoryData:
        return await self._run(sql.fetch_directory)

    async def fetch_directory_version(self) -> int:
        return await self._run(lambda conn: conn.fetchval(sql.DIRECTORY_VERSION))

    async def import_directory(self, doc: DirectoryImport, replace: bool) -> dict[str, int]:
        return await self._run(sql.import_directory, doc, replace)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.fetchval("SELECT 1"))


async def _upsert_batch(conn: asyncpg.Connection, batch: list[PresenceRecord], per_statement: int):
    """The batch as column arrays, built here on the database thread (not on the node's
    trio thread, which a saturated node cannot spare), then `sql.upsert`."""
    chunks = [
        (
            [r.user_id for r in part],
            [r.status.value for r in part],
            [to_naive_utc(r.last_seen) for r in part],
        )
        for part in (batch[i : i + per_statement] for i in range(0, len(batch), per_statement))
    ]
    return await sql.upsert(conn, chunks)


async def _with_connection(pool: asyncpg.Pool, fn, args: tuple):
    conn = await pool.acquire()
    try:
        return await fn(conn, *args)
    except asyncio.CancelledError:
        conn.terminate()  # abandoned mid-call: never reuse it, never wait to reset it
        raise
    finally:
        await pool.release(conn)


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Nothing to reset: the store sets no session state, LISTENs to nothing and holds no
    session locks, so the default reset query would be one more round trip per call."""


async def _open_pool(dsn: str, pool_size: int, connect_timeout: float, trace: Trace | None):
    async def init(conn: asyncpg.Connection) -> None:
        if trace is not None:
            conn.add_query_logger(lambda record: trace(record.query))

    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=pool_size,
        timeout=connect_timeout,
        init=init,
        reset=_no_reset,
        server_settings={"timezone": "UTC", "application_name": "presence-actors"},
    )
    try:
        opened_at = await pool.fetchval("SELECT LOCALTIMESTAMP")
    except BaseException:
        pool.terminate()
        raise
    return pool, opened_at


async def _close_pool(pool: asyncpg.Pool, timeout: float) -> None:
    try:
        await asyncio.wait_for(pool.close(), timeout)
    except (TimeoutError, Exception):
        pool.terminate()


@asynccontextmanager
async def open_postgres(
    dsn: str,
    *,
    pool_size: int = 4,
    connect_timeout: float = 10.0,
    trace: Trace | None = None,
) -> AsyncIterator[PostgresBackend]:
    """Start the database thread and a pool in its loop; on exit, close both (bounded)."""
    thread = AsyncioThread("presence-postgres")
    thread.start()
    try:
        with trio.fail_after(connect_timeout + 1.0):
            pool, opened_at = await thread.call(_open_pool, dsn, pool_size, connect_timeout, trace)
        try:
            yield PostgresBackend(pool, thread, opened_at)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(connect_timeout + 1.0):
                await thread.call(_close_pool, pool, connect_timeout)
    finally:
        await thread.stop(connect_timeout)
