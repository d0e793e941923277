"""Database outages lose nothing: pending snapshots stay (one per user), retries back off,
ready() is False until a flush succeeds, and persist() never blocks or raises."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
import time
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio
import trio.lowlevel

from storage import StoreUnavailable, open_store
from storage.backends.memory import MemoryBackend, MemoryDatabase
from storage.store import open_store_with
from storage.url import parse_url

from .helpers import (
    ADMIN_DSN,
    FAST,
    TCPProxy,
    as_rows,
    assert_same_rows,
    directory,
    pg,
    record,
    rows_in_database,
    wait_until,
    with_port,
)

NOW = time.time()


class FlakyBackend(MemoryBackend):
    """The memory backend with a switchable outage and a gate to hold a write in flight."""

    def __init__(self) -> None:
        super().__init__(MemoryDatabase(), None)
        self.down = False
        self.gate: trio.Event | None = None
        self.entered = trio.Event()
        self.attempts: list[float] = []

    async def upsert(self, batch):
        self.attempts.append(trio.current_time())
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise ConnectionError("database is down")
        return await super().upsert(batch)

    async def ping(self):
        if self.down:
            raise ConnectionError("database is down")

    async def fetch_presence(self, user_ids):
        if self.down:
            raise ConnectionError("database is down")
        return await super().fetch_presence(user_ids)

    async def fetch_directory(self):
        if self.down:
            raise ConnectionError("database is down")
        return await super().fetch_directory()


def opener(backend: FlakyBackend):
    @asynccontextmanager
    async def open_flaky():
        yield backend

    return open_flaky


class Users:
    """Statuses that keep changing, and the state the database must end up with."""

    def __init__(self, store, n: int) -> None:
        self.store, self.n = store, n
        self.expected: dict[int, tuple[str, float]] = {}
        self.clock = NOW

    def change(self, count: int) -> None:
        for _ in range(count):
            uid = random.randint(1, self.n)
            self.clock += 0.001
            status = random.choice(("online", "away", "offline"))
            self.store.persist(record(uid, status, self.clock))
            self.expected[uid] = (status, self.clock)


async def test_failed_batch_is_merged_back_under_newer_snapshots():
    backend = FlakyBackend()
    backend.gate = trio.Event()
    slow = dataclasses.replace(FAST, flush_interval=3600.0, health_interval=3600.0)
    with trio.fail_after(10):
        async with open_store_with(opener(backend), slow) as store:
            await store.import_directory(directory(2))
            store.persist(record(1, "online", NOW))
            store.persist(record(2, "online", NOW))
            async with trio.open_nursery() as nursery:
                failed = trio.Event()

                async def flush_expecting_failure():
                    with pytest.raises(StoreUnavailable):
                        await store.flush()
                    failed.set()

                nursery.start_soon(flush_expecting_failure)
                await backend.entered.wait()  # the batch {1, 2} is in flight
                store.persist(record(1, "away", NOW + 1))  # newer than the in-flight one
                assert as_rows(await store.load_presence([1, 2])) == {
                    1: ("away", NOW + 1),
                    2: ("online", NOW),
                }
                backend.down = True
                backend.gate.set()
                await failed.wait()
            assert store.statistics().pending == 2  # one per user, nothing lost
            assert not store.ready()
            assert as_rows(await store.load_presence([1, 2])) == {
                1: ("away", NOW + 1),
                2: ("online", NOW),
            }
            backend.down = False
            await store.flush()
            assert store.ready()
            assert as_rows(backend.db.presence) == {1: ("away", NOW + 1), 2: ("online", NOW)}


async def test_outage_keeps_every_snapshot_and_backs_off():
    backend = FlakyBackend()
    with trio.fail_after(20):
        async with open_store_with(opener(backend), FAST) as store:
            await store.import_directory(directory(2000))
            users = Users(store, 2000)
            backend.down = True
            users.change(20_000)  # never blocks, never raises
            await wait_until(lambda: not store.ready())
            await wait_until(lambda: store.statistics().consecutive_failures >= 4)
            gaps = [b - a for a, b in zip(backend.attempts, backend.attempts[1:], strict=False)]
            assert gaps[-1] >= 0.15  # backoff grew from 0.05 towards its 0.2 cap
            assert store.statistics().pending == len(users.expected)
            users.change(5000)
            backend.down = False
            await wait_until(lambda: store.ready() and store.statistics().pending == 0)
            assert as_rows(backend.db.presence) == users.expected


async def test_reads_keep_answering_from_memory_during_an_outage():
    backend = FlakyBackend()
    with trio.fail_after(10):
        async with open_store_with(opener(backend), FAST) as store:
            await store.import_directory(directory(3))
            store.persist(record(1, "online", NOW))
            store.persist(record(2, "away", NOW))
            await store.flush()
            directory_before = await store.load_directory()
            store.persist(record(1, "offline", NOW + 1))
            backend.down = True
            # The first read finds out (and makes the store unready) ...
            got = await store.load_presence([1, 2, 3])
            assert as_rows(got) == {1: ("offline", NOW + 1), 2: ("away", NOW)}
            assert not store.ready()
            # ... later ones do not wait for the database at all.
            with trio.fail_after(0.05):
                assert list(await store.load_presence([3, 1])) == [1]
            assert await store.load_directory() == directory_before  # the last one loaded
            with pytest.raises(StoreUnavailable):
                await store.export_directory()  # an export is never stale
            assert store.statistics().degraded_reads >= 3
            backend.down = False
            await wait_until(lambda: store.ready() and store.statistics().pending == 0)
            assert as_rows(await store.load_presence([1, 2])) == {
                1: ("offline", NOW + 1),
                2: ("away", NOW),
            }


async def test_close_gives_up_at_the_deadline_and_reports_what_was_lost():
    backend = FlakyBackend()
    options = dataclasses.replace(FAST, close_deadline=0.3)
    with trio.fail_after(10):
        async with open_store_with(opener(backend), options) as store:
            await store.import_directory(directory(3))
            backend.down = True
            for uid in (1, 2, 3):
                store.persist(record(uid, "online", NOW))
            started = trio.current_time()
        assert trio.current_time() - started < 2.0
        assert store.statistics().lost_on_close == 3
        store.persist(record(1, "away", NOW + 1))  # too late: counted, never raises
        assert store.statistics().lost_on_close == 4
        with pytest.raises(StoreUnavailable):
            await store.load_directory()


@pytest.mark.postgres
async def test_postgres_outage_behind_a_proxy_loses_nothing(postgres_url):
    proxy = TCPProxy()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(proxy.serve)
            async with open_store(with_port(postgres_url, port), options=FAST) as store:
                await store.import_directory(directory(300))
                users = Users(store, 300)
                users.change(200)
                await store.flush()
                proxy.stop()
                await proxy.stopped.wait()
                for _ in range(20):  # statuses keep changing during the outage
                    users.change(50)
                    await trio.sleep(0.01)
                await wait_until(lambda: not store.ready())
                users.change(500)
                assert store.statistics().pending > 0
                await nursery.start(proxy.serve)  # the database comes back on the same port
                await wait_until(lambda: store.ready() and store.statistics().pending == 0, 30)
                users.change(100)
            proxy.stop()
        assert store.statistics().failed_flushes >= 1
        assert_same_rows(await rows_in_database(postgres_url), users.expected)


@pytest.mark.postgres
async def test_postgres_backends_terminated_mid_run_lose_nothing(postgres_url):
    name = parse_url(postgres_url).dsn.rsplit("/", 1)[1]
    kill = partial(
        pg,
        ADMIN_DSN,
        lambda c: c.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            name,
        ),
    )
    with trio.fail_after(60):
        async with open_store(postgres_url, options=FAST) as store:
            await store.import_directory(directory(300))
            users = Users(store, 300)
            for _ in range(5):
                users.change(300)
                assert await kill() >= 1
                users.change(300)
                await wait_until(lambda: store.statistics().pending == 0 and store.ready(), 30)
    assert_same_rows(await rows_in_database(postgres_url), users.expected)


async def test_sqlite_locked_by_another_process_loses_nothing(sqlite_url):
    path = parse_url(sqlite_url).path
    with trio.fail_after(30):
        async with open_store(sqlite_url, options=FAST) as store:
            await store.import_directory(directory(200))
            users = Users(store, 200)
            users.change(100)
            await store.flush()
            locker = sqlite3.connect(path, isolation_level=None)
            try:
                locker.execute("BEGIN EXCLUSIVE")  # every writer now gets "database is locked"
                users.change(300)
                await wait_until(lambda: not store.ready())
                users.change(300)
                assert store.statistics().pending > 0
            finally:
                locker.execute("COMMIT")
                locker.close()
            await wait_until(lambda: store.ready() and store.statistics().pending == 0)
    assert "locked" in (store.statistics().last_error or "")
    assert_same_rows(await rows_in_database(sqlite_url), users.expected)


@pytest.mark.postgres
async def test_an_asyncio_error_report_does_not_crash_the_storage_actor(postgres_url):
    """Regression: trio-asyncio's default handler re-raised asyncpg's "Future exception was
    never retrieved" (seen after connections died) into the loop, killing the actor."""
    from storage.backends.postgres import open_postgres

    opened = []

    @asynccontextmanager
    async def open_and_remember():
        async with open_postgres(parse_url(postgres_url).dsn, connect_timeout=3.0) as backend:
            opened.append(backend)
            yield backend

    with trio.fail_after(20):
        async with open_store_with(open_and_remember, FAST) as store:
            await store.import_directory(directory(1))
            (backend,) = opened
            backend._loop.call_exception_handler(
                {
                    "message": "Future exception was never retrieved",
                    "exception": ConnectionError("unexpected connection_lost() call"),
                }
            )
            await trio.lowlevel.checkpoint()  # where the re-raise used to be scheduled
            store.persist(record(1, "online", NOW))
            await store.flush()
    assert_same_rows(await rows_in_database(postgres_url), {1: ("online", NOW)})
