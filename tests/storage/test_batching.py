"""A flush is one statement per batch, counted where the driver sees statements:
asyncpg's query logger on every pooled connection, sqlite3's trace callback."""

from __future__ import annotations

import dataclasses
import time

import pytest
import trio
import trio.testing

from storage import open_store

from .helpers import FAST, all_written, directory, record, rows_in_database, wait_until

NOW = time.time()
# No interval flush during these tests: only the 500-pending threshold may trigger one.
THRESHOLD_ONLY = dataclasses.replace(FAST, flush_interval=3600.0, health_interval=3600.0)


def upserts(statements: list[str]) -> list[str]:
    return [s for s in statements if "INSERT INTO user_presence" in s]


async def test_500_pending_trigger_one_flush_of_one_statement(store_url):
    statements: list[str] = []
    with trio.fail_after(20):
        async with open_store(store_url, options=THRESHOLD_ONLY, trace=statements.append) as store:
            await store.import_directory(directory(600))
            statements.clear()
            for uid in range(1, 501):
                store.persist(record(uid, "online", NOW + uid / 1000))
            await wait_until(lambda: store.statistics().flushed_rows == 500)
            await wait_until(lambda: len(upserts(statements)) >= 1)  # asyncpg logs via call_soon
            stats = store.statistics()
            assert (stats.flushes, stats.pending) == (1, 0)
            assert len(upserts(statements)) == 1
            assert len(await rows_in_database(store_url)) == 500


async def test_a_backlog_is_written_in_max_batch_sized_statements(store_url):
    statements: list[str] = []
    options = dataclasses.replace(THRESHOLD_ONLY, flush_threshold=10_000, max_batch=400)
    with trio.fail_after(20):
        async with open_store(store_url, options=options, trace=statements.append) as store:
            await store.import_directory(directory(1000))
            statements.clear()
            for uid in range(1, 1001):
                store.persist(record(uid, "away", NOW))
            await store.flush()
            await wait_until(lambda: len(upserts(statements)) >= 3)
            assert len(upserts(statements)) == 3  # 400 + 400 + 200
            assert store.statistics().flushed_rows == 1000


async def test_below_the_threshold_nothing_is_written_before_the_interval(memory_url):
    statements: list[str] = []
    with trio.fail_after(10):
        async with open_store(memory_url, options=THRESHOLD_ONLY, trace=statements.append) as store:
            await store.import_directory(directory(499))
            for uid in range(1, 500):
                store.persist(record(uid, "online", NOW))
            await trio.testing.wait_all_tasks_blocked()  # the actor had every chance to run
            assert store.statistics().flushes == 0
            assert upserts(statements) == []
            store.persist(record(1, "away", NOW))  # coalesced: still 499 pending
            await trio.testing.wait_all_tasks_blocked()
            assert store.statistics().flushes == 0


@pytest.mark.postgres
async def test_postgres_upsert_is_an_unnest_insert(postgres_url):
    statements: list[str] = []
    with trio.fail_after(10):
        async with open_store(postgres_url, options=FAST, trace=statements.append) as store:
            await store.import_directory(directory(2))
            store.persist(record(1, "online", NOW))
            store.persist(record(2, "online", NOW))
            await store.flush()
            await wait_until(lambda: len(upserts(statements)) == 1)
    (sql,) = upserts(statements)
    assert "unnest($1::int[], $2::text[], $3::timestamp[])" in sql
    assert "ON CONFLICT (user_id) DO UPDATE" in sql


async def test_ten_thousand_changes_in_a_second_are_all_written(store_url):
    """The issue's load: 10,000 statuses change within one second; nothing is lost and the
    writes go out in batches, not one statement per change."""
    statements: list[str] = []
    with trio.fail_after(30):
        async with open_store(store_url, options=THRESHOLD_ONLY, trace=statements.append) as store:
            await store.import_directory(directory(10_000))
            statements.clear()
            expected = {}
            for burst in range(20):  # 20 bursts of 500 over ~1 s, as user actors would
                for uid in range(burst * 500 + 1, burst * 500 + 501):
                    store.persist(record(uid, "online", NOW + uid))
                    expected[uid] = ("online", NOW + uid)
                await trio.sleep(0.05)
            await wait_until(lambda: all_written(store))
            stats = store.statistics()
            # asyncpg logs statements via call_soon: wait for the log to catch up
            await wait_until(lambda: len(upserts(statements)) >= stats.flushes)
    assert stats.flushed_rows == 10_000
    assert len(upserts(statements)) <= 20  # a statement per 500 snapshots at most
    rows = await rows_in_database(store_url)
    assert len(rows) == 10_000
    assert all(rows[uid][0] == "online" for uid in expected)
