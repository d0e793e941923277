"""Real database outages lose nothing: pending snapshots stay (one per user), ready() is
False until a flush succeeds, persist() never blocks or raises, and every wait on the
database ends at its deadline. Real clock, real Postgres and SQLite (the same rules on the
memory backend, with SPEC §9's own numbers and in no wall time: test_timing.py)."""

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

from storage import Health, StoreOptions, open_store
from storage.store import open_store_with
from storage.url import parse_url

from .helpers import (
    ADMIN_DSN,
    FAST,
    TCPProxy,
    all_written,
    assert_same_rows,
    directory,
    pg,
    record,
    rows_in_database,
    wait_until,
    with_port,
)

NOW = time.time()


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


# No idle health check in the proxy tests: the write must be the first thing to meet the
# outage. With FAST's 0.1 s health_interval, when the test ran late (a loaded machine) the
# health check was due before the interval flush: it failed, the store went DOWN, and a
# DOWN store only probes, so the flush the test counts on never ran (failed_flushes 0, or
# a TooSlowError waiting for it). Reproduced every time with a 0.3 s pause before the
# changes; 2 runs in 5 under load.
OUTAGE = dataclasses.replace(FAST, health_interval=3600.0)


@asynccontextmanager
async def behind_a_proxy(postgres_url: str, options: StoreOptions):
    """A store on Postgres through a `TCPProxy`, 300 users imported, 200 changes written;
    yields the store, the users' changes, the proxy and the nursery that serves it."""
    proxy = TCPProxy()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(proxy.serve)
        async with open_store(with_port(postgres_url, port), options=options) as store:
            await store.import_directory(directory(301))
            users = Users(store, 300)
            users.change(200)
            await store.flush()
            yield store, users, proxy, nursery
        proxy.stop()


@pytest.mark.postgres
async def test_postgres_outage_behind_a_proxy_loses_nothing(postgres_url):
    with trio.fail_after(60):
        async with behind_a_proxy(postgres_url, OUTAGE) as (store, users, proxy, nursery):
            proxy.stop()
            await proxy.stopped.wait()
            for _ in range(20):  # statuses keep changing during the outage
                users.change(50)
                await trio.sleep(0.01)
            await wait_until(lambda: not store.ready())
            users.change(500)
            assert store.statistics().pending > 0
            await nursery.start(proxy.serve)  # the database comes back on the same port
            await wait_until(lambda: all_written(store), 30)
            users.change(100)
        assert store.statistics().failed_flushes >= 1
        assert_same_rows(await rows_in_database(postgres_url), users.expected)


# Short deadlines so the blackhole test takes seconds: what is checked is that each wait
# ends at its own deadline, not at the end of the outage.
BLACKHOLE = dataclasses.replace(
    OUTAGE,
    operation_timeout=2.0,
    read_timeout=0.5,
    stall_timeout=1.0,
    probe_interval=0.2,
    connect_timeout=1.0,
)


@pytest.mark.postgres
async def test_postgres_blackhole_every_wait_ends_at_its_deadline(postgres_url):
    """Regression (reliability audit, Postgres blackhole): with TCP up and nothing
    answering, the flush in flight hung for the whole outage, readiness stayed up, reads
    waited up to 16 s, and after the database came back readiness waited out the backoff."""
    opts = BLACKHOLE
    with trio.fail_after(60):
        async with behind_a_proxy(postgres_url, opts) as (store, users, proxy, _):
            known = await store.load_directory()
            version = await store.load_directory_version()
            proxy.freeze()
            frozen = trio.current_time()
            users.change(100)  # the next interval flush goes into the blackhole
            await wait_until(lambda: not store.ready(), opts.stall_timeout + 2)
            assert trio.current_time() - frozen < opts.stall_timeout + 1.0
            for read, answer in (
                (store.load_presence([301]), {}),  # never seen: the database is mute
                (store.load_directory(), known),
                (store.load_directory_version(), version),
            ):
                started = trio.current_time()
                assert await read == answer
                assert trio.current_time() - started < opts.read_timeout + 0.5
            # The write in flight failed at its own deadline, long before the thaw.
            await wait_until(lambda: store.statistics().failed_flushes >= 1, 5)
            assert trio.current_time() - frozen < opts.operation_timeout + 1.5
            assert store.statistics().timeouts >= 1
            for _ in range(10):  # statuses keep changing during the outage
                users.change(20)
                await trio.sleep(0.2)
            assert store.statistics().health is Health.DOWN
            proxy.thaw()
            thawed = trio.current_time()
            await wait_until(lambda: all_written(store), 20)
            assert trio.current_time() - thawed < 3.0  # within seconds, not a backoff
            users.change(50)
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
                await wait_until(lambda: all_written(store), 30)
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
            await wait_until(lambda: all_written(store))
    assert "locked" in (store.statistics().last_error or "")
    assert_same_rows(await rows_in_database(sqlite_url), users.expected)


@pytest.mark.postgres
async def test_an_asyncio_error_report_does_not_crash_the_storage_actor(postgres_url):
    """Regression: trio-asyncio's default handler re-raised asyncpg's "Future exception was
    never retrieved" (seen after connections died) into the loop, killing the actor. The
    database thread's loop logs such reports instead."""
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
            loop = backend._thread.loop
            reported = trio.Event()
            token = trio.lowlevel.current_trio_token()

            def report():
                loop.call_exception_handler(
                    {
                        "message": "Future exception was never retrieved",
                        "exception": ConnectionError("unexpected connection_lost() call"),
                    }
                )
                token.run_sync_soon(reported.set)

            loop.call_soon_threadsafe(report)
            await reported.wait()
            store.persist(record(1, "online", NOW))
            await store.flush()
    assert_same_rows(await rows_in_database(postgres_url), {1: ("online", NOW)})
