"""`last_seen` never moves backwards in the store (SPEC §13), on every backend.

Two stores on one database stand for two cluster nodes writing the same user: the later
`last_seen` wins whichever node flushes last, and an equal one still carries a status change
(expiry sets a device offline without moving `last_seen`).
"""

from __future__ import annotations

import time

import trio

from storage import open_store

from .helpers import FAST, as_rows, assert_same_rows, directory, record, rows_in_database

NOW = time.time()


async def test_an_older_snapshot_never_overwrites_a_newer_row(store_url):
    with trio.fail_after(20):
        async with open_store(store_url, options=FAST) as node_a:
            await node_a.import_directory(directory(2))
            async with open_store(store_url, options=FAST) as node_b:
                node_b.persist(record(1, "online", NOW + 10))
                await node_b.flush()
                node_a.persist(record(1, "away", NOW + 5))  # older, flushed later
                node_a.persist(record(2, "away", NOW + 5))
                await node_a.flush()
                stats = node_a.statistics()
                assert (stats.flushed_rows, stats.stale_rows, stats.dropped_rows) == (1, 1, 0)
                assert_same_rows(
                    await rows_in_database(store_url),
                    {1: ("online", NOW + 10), 2: ("away", NOW + 5)},
                )
                # node A reads the stored row again, not its own stale snapshot
                got = as_rows(await node_a.load_presence([1]))
                assert_same_rows(got, {1: ("online", NOW + 10)})


async def test_an_equal_last_seen_still_writes_a_status_change(store_url):
    with trio.fail_after(20):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(directory(1))
            store.persist(record(1, "online", NOW))
            await store.flush()
            store.persist(record(1, "offline", NOW))  # expired: last_seen unchanged
            await store.flush()
            assert store.statistics().stale_rows == 0
    assert_same_rows(await rows_in_database(store_url), {1: ("offline", NOW)})


async def test_a_newer_snapshot_overwrites_an_older_row(store_url):
    with trio.fail_after(20):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(directory(1))
            for seen, status in ((NOW, "online"), (NOW + 0.000001, "away")):
                store.persist(record(1, status, seen))
                await store.flush()
    assert_same_rows(await rows_in_database(store_url), {1: ("away", NOW + 0.000001)})
