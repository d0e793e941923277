"""Shared test helpers: direct database access (bypassing the store), waits, a TCP proxy."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import trio

from presence_actors.model import PresenceRecord, PresenceStatus
from storage import StoreOptions
from storage.backends import memory
from storage.backends.memory import MemoryBackend, MemoryDatabase
from storage.timestamps import from_naive_utc, from_sqlite_text
from storage.url import parse_url

# Small intervals so the real clock moves tests along quickly.
FAST = StoreOptions(
    flush_interval=0.05,
    backoff_base=0.05,
    backoff_cap=0.2,
    close_deadline=5.0,
    operation_timeout=3.0,
    connect_timeout=3.0,
    health_interval=0.1,
    sqlite_busy_timeout=0.2,
)

# The maintenance database the fixtures CREATE and DROP test databases through.
ADMIN_DSN = os.environ.get(
    "PRESENCE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def directory(n_users: int, **extra) -> dict:
    return {
        "users": [{"id": i, "display_name": f"user {i}"} for i in range(1, n_users + 1)]
    } | extra


def pg_run(dsn: str, fn: Callable) -> object:
    """Run `await fn(conn)` on a fresh asyncpg connection in a private asyncio loop (sync)."""

    async def main():
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            return await fn(conn)
        finally:
            await conn.close()

    return asyncio.run(main())


async def pg(dsn: str, fn: Callable) -> object:
    """`pg_run` from a trio test, in a worker thread (it never touches the store's loop)."""
    return await trio.to_thread.run_sync(pg_run, dsn, fn)


async def rows_in_database(url: str) -> dict[int, tuple[str, float]]:
    """user_presence as the database holds it: {user_id: (status, last_seen)}."""
    parsed = parse_url(url)
    if parsed.kind == "memory":
        return {
            u: (r.status.value, r.last_seen) for u, r in memory._NAMED[parsed.name].presence.items()
        }
    if parsed.kind == "sqlite":

        def read():
            with sqlite3.connect(parsed.path) as conn:
                return conn.execute(
                    "SELECT user_id, status, last_seen FROM user_presence"
                ).fetchall()

        return {u: (s, from_sqlite_text(t)) for u, s, t in await trio.to_thread.run_sync(read)}
    rows = await pg(
        parsed.dsn, lambda c: c.fetch("SELECT user_id, status, last_seen FROM user_presence")
    )
    return {u: (s, from_naive_utc(t)) for u, s, t in rows}


async def schema_versions(url: str) -> list[int]:
    parsed = parse_url(url)
    sql = "SELECT version FROM schema_migrations ORDER BY version"
    if parsed.kind == "sqlite":
        with sqlite3.connect(parsed.path) as conn:
            return [r[0] for r in conn.execute(sql)]
    return [r[0] for r in await pg(parsed.dsn, lambda c: c.fetch(sql))]


def as_rows(records: dict[int, PresenceRecord]) -> dict[int, tuple[str, float]]:
    return {u: (r.status.value, r.last_seen) for u, r in records.items()}


def assert_same_rows(actual: dict, expected: dict) -> None:
    """Equal statuses, and last_seen equal to the microsecond (what TIMESTAMP keeps)."""
    assert set(actual) == set(expected)
    for uid, (status, seen) in expected.items():
        got_status, got_seen = actual[uid]
        assert got_status == status, (uid, actual[uid], expected[uid])
        assert abs(got_seen - seen) < 2e-6, (uid, actual[uid], expected[uid])


def record(uid: int, status: str, last_seen: float) -> PresenceRecord:
    return PresenceRecord(uid, PresenceStatus(status), last_seen)


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition on a real-clock resource, bounded (fails the test on timeout)."""
    with trio.fail_after(timeout):
        while True:
            if condition():
                return
            await trio.sleep(0.01)


def all_written(store) -> bool:
    """Nothing is left to write: no snapshot pending *and none in flight*, the store ready.

    `statistics().pending` counts only the snapshots not yet taken: while a batch is being
    written it is 0, so `pending == 0` right after a burst means "taken", not "written"
    (under load the write was still in flight when the test looked: 9,500 of 10,000 rows
    counted). `lag_seconds` covers the batch in flight too, and is 0 only when all is
    written (real clock: a snapshot is always older than the moment we look)."""
    stats = store.statistics()
    return stats.pending == 0 and stats.lag_seconds == 0 and stats.ready


def with_port(dsn: str, port: int) -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


class FlakyBackend(MemoryBackend):
    """The memory backend with faults to switch on and off:

    - `down`: every call fails at once (connection refused);
    - `refusing`: pings answer, writes fail (a lock, a constraint: the database is up);
    - `blackhole`: every call waits until the blackhole ends (TCP up, nothing answers);
    - `gate`: an Event that holds each write in flight until it is set.
    """

    def __init__(self, db: MemoryDatabase | None = None) -> None:
        super().__init__(db or MemoryDatabase(), None)
        self.down = False
        self.refusing = False
        self.blackhole: trio.Event | None = None
        self.gate: trio.Event | None = None
        self.entered = trio.Event()
        self.attempts: list[float] = []  # trio time of every write attempt
        self.pings: list[float] = []

    async def _fault(self) -> None:
        if self.blackhole is not None:
            await self.blackhole.wait()
        if self.down:
            raise ConnectionError("database is down")

    async def upsert(self, batch, per_statement):
        self.attempts.append(trio.current_time())
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        await self._fault()
        if self.refusing:
            raise RuntimeError("could not obtain lock on user_presence")
        return await super().upsert(batch, per_statement)

    async def ping(self):
        self.pings.append(trio.current_time())
        await self._fault()

    async def fetch_presence(self, user_ids):
        await self._fault()
        return await super().fetch_presence(user_ids)

    async def fetch_directory(self):
        await self._fault()
        return await super().fetch_directory()

    async def fetch_directory_version(self):
        await self._fault()
        return await super().fetch_directory_version()


def opener(backend: MemoryBackend):
    """A backend opener that yields this (already open) backend."""

    @asynccontextmanager
    async def open_it():
        yield backend

    return open_it


class TCPProxy:
    """A trio TCP proxy to Postgres that can be stopped (all connections cut) and restarted,
    or frozen: connections stay up, nothing is forwarded (a network blackhole) until thawed."""

    def __init__(self, target_port: int = urlsplit(ADMIN_DSN).port or 5432) -> None:
        self.target_port = target_port
        self.port = 0
        self._scope: trio.CancelScope | None = None
        self.stopped = trio.Event()
        self._flowing = trio.Event()
        self._flowing.set()

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        with trio.CancelScope() as self._scope:
            self.stopped = trio.Event()
            listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
            self.port = listeners[0].socket.getsockname()[1]
            async with trio.open_nursery() as nursery:
                task_status.started(self.port)
                await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)
        self.stopped.set()

    def stop(self) -> None:
        assert self._scope is not None
        self._scope.cancel()

    def freeze(self) -> None:
        if self._flowing.is_set():
            self._flowing = trio.Event()

    def thaw(self) -> None:
        self._flowing.set()

    async def _handle(self, client: trio.SocketStream) -> None:
        await self._flowing.wait()  # frozen: the connection is accepted, and left hanging
        server = await trio.open_tcp_stream("127.0.0.1", self.target_port)
        async with client, server, trio.open_nursery() as nursery:
            nursery.start_soon(self._pump, client, server, nursery.cancel_scope)
            nursery.start_soon(self._pump, server, client, nursery.cancel_scope)

    async def _pump(
        self, src: trio.SocketStream, dst: trio.SocketStream, scope: trio.CancelScope
    ) -> None:
        try:
            async for chunk in src:
                await self._flowing.wait()
                await dst.send_all(chunk)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        scope.cancel()
