"""The storage contract, run against every backend (memory, SQLite file, Postgres)."""

from __future__ import annotations

import time

import pytest
import trio

from presence_actors.ports import DirectoryData, PresenceStore
from storage import DirectoryFileError, Store, open_store

from .helpers import (
    FAST,
    as_rows,
    assert_same_rows,
    directory,
    record,
    rows_in_database,
    wait_until,
)

NOW = time.time()


async def test_a_store_is_a_presence_store(store_url):
    with trio.fail_after(10):
        async with open_store(store_url, options=FAST) as store:
            assert isinstance(store, Store)
            port_methods = ("persist", "load_presence", "load_directory", "ready")
            assert all(callable(getattr(store, name)) for name in port_methods)
            store_as_port: PresenceStore = store
            assert store_as_port.ready()
            assert store.statistics().ready


async def test_reads_see_pending_snapshots_before_any_flush(store_url):
    slow = FAST.__class__(**{**FAST.__dict__, "flush_interval": 3600.0})
    with trio.fail_after(10):
        async with open_store(store_url, options=slow) as store:
            await store.import_directory(directory(3))
            store.persist(record(1, "online", NOW))
            store.persist(record(2, "away", NOW - 5))
            got = await store.load_presence([1, 2, 3])
            assert as_rows(got) == {1: ("online", NOW), 2: ("away", NOW - 5)}
            assert store.statistics().pending == 2
            assert await rows_in_database(store_url) == {}


async def test_snapshots_coalesce_per_user_latest_wins(store_url):
    with trio.fail_after(10):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(directory(2))
            for i in range(50):
                store.persist(record(1, ("online", "away")[i % 2], NOW + i))
            assert store.statistics().pending == 1
            await store.flush()
            stats = store.statistics()
            assert (stats.pending, stats.flushed_rows) == (0, 1)
            assert_same_rows(await rows_in_database(store_url), {1: ("away", NOW + 49)})


async def test_flushed_rows_read_back_from_the_database(store_url):
    with trio.fail_after(10):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(directory(3))
            store.persist(record(1, "online", NOW + 0.123456))
            store.persist(record(2, "offline", NOW - 3600))
            await store.flush()
        async with open_store(store_url, options=FAST, mark_offline_on_start=False) as store:
            got = await store.load_presence([3, 2, 1, 2, 99, -1])
            assert list(got) == [2, 1]  # request order, duplicates and unknowns dropped
            assert_same_rows(
                as_rows(got), {1: ("online", NOW + 0.123456), 2: ("offline", NOW - 3600)}
            )


async def test_interval_flush_happens_without_asking(store_url):
    with trio.fail_after(10):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(directory(1))
            store.persist(record(1, "online", NOW))
            await wait_until(lambda: store.statistics().flushes > 0)
            assert_same_rows(await rows_in_database(store_url), {1: ("online", NOW)})


async def test_snapshot_for_unknown_user_is_dropped_and_does_not_poison_the_batch(store_url):
    with trio.fail_after(10):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(directory(2))
            store.persist(record(1, "online", NOW))
            store.persist(record(777, "online", NOW))  # not in users
            store.persist(record(2, "away", NOW))
            await store.flush()
            stats = store.statistics()
            assert (stats.flushed_rows, stats.dropped_rows, stats.pending) == (2, 1, 0)
            assert stats.ready
            assert set(await rows_in_database(store_url)) == {1, 2}
            assert 777 not in await store.load_presence([777])
            store.persist(record(1, "offline", NOW + 1))  # the next batch is fine too
            await store.flush()
            assert (await rows_in_database(store_url))[1][0] == "offline"


async def test_unstorable_snapshots_are_refused_without_raising(store_url):
    with trio.fail_after(10):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(directory(1))
            for bad in (
                record(1, "online", float("nan")),
                record(2**31, "online", NOW),
                record(0, "online", NOW),
                record(1, "online", None),
            ):
                store.persist(bad)
            assert store.statistics().rejected == 4
            assert store.statistics().pending == 0
            await store.flush()
            assert store.ready()


async def test_restart_keeps_last_seen_and_mark_offline_sets_everyone_offline(store_url):
    expected = {1: ("online", NOW - 1.5), 2: ("away", NOW - 30), 3: ("offline", NOW - 99)}
    with trio.fail_after(15):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(directory(3))
            for uid, (status, seen) in expected.items():
                store.persist(record(uid, status, seen))
        # graceful close flushed them
        assert_same_rows(await rows_in_database(store_url), expected)
        async with open_store(store_url, options=FAST) as store:
            assert await store.mark_offline() == 2
            got = await store.load_presence([1, 2, 3])
        offline = {uid: ("offline", seen) for uid, (_, seen) in expected.items()}
        assert_same_rows(as_rows(got), offline)
        assert_same_rows(await rows_in_database(store_url), offline)


async def test_close_flushes_what_is_pending(store_url):
    slow = FAST.__class__(**{**FAST.__dict__, "flush_interval": 3600.0})
    with trio.fail_after(15):
        async with open_store(store_url, options=slow) as store:
            await store.import_directory(directory(300))
            for uid in range(1, 301):
                store.persist(record(uid, "online", NOW + uid))
            assert store.statistics().flushes == 0
        rows = await rows_in_database(store_url)
        assert_same_rows(rows, {uid: ("online", NOW + uid) for uid in range(1, 301)})


async def test_close_flushes_even_when_the_owner_is_cancelled(store_url):
    slow = FAST.__class__(**{**FAST.__dict__, "flush_interval": 3600.0})
    with trio.fail_after(15):
        with trio.CancelScope() as scope:
            async with open_store(store_url, options=slow) as store:
                await store.import_directory(directory(2))
                store.persist(record(2, "away", NOW))
                scope.cancel()
                await trio.sleep_forever()
        assert_same_rows(await rows_in_database(store_url), {2: ("away", NOW)})


async def test_directory_import_export_round_trip(store_url):
    data = {
        "users": [
            {"id": 2, "display_name": "Grace"},
            {"id": 1, "display_name": "Ada"},
            {"id": 3, "display_name": "Linus"},
        ],
        "partnerships": [[2, 1]],
        "circles": [{"id": 7, "name": "Book club", "members": [2, 1]}],
        "conversations": [{"id": 10, "participants": [1, 2, 3]}, {"id": 11, "participants": []}],
    }
    with trio.fail_after(10):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(data)
            exported = await store.export_directory()
            loaded = await store.load_directory()
    assert exported == {
        "users": [
            {"id": 1, "display_name": "Ada"},
            {"id": 2, "display_name": "Grace"},
            {"id": 3, "display_name": "Linus"},
        ],
        "partnerships": [[1, 2]],
        "circles": [{"id": 7, "name": "Book club", "members": [1, 2]}],
        "conversations": [{"id": 10, "participants": [1, 2, 3]}, {"id": 11, "participants": []}],
    }
    assert loaded == DirectoryData(
        users={1: "Ada", 2: "Grace", 3: "Linus"},
        partnerships=frozenset({(1, 2)}),
        circles={7: ("Book club", frozenset({1, 2}))},
        conversations={10: frozenset({1, 2, 3}), 11: frozenset()},
    )


async def test_import_upserts_what_the_file_names(store_url):
    first = directory(
        4,
        partnerships=[[1, 2]],
        circles=[
            {"id": 7, "name": "Book club", "members": [1, 2]},
            {"id": 8, "name": "Chess", "members": [3, 4]},
        ],
        conversations=[{"id": 10, "participants": [1, 2]}, {"id": 11, "participants": [3, 4]}],
    )
    second = {
        "users": [{"id": 1, "display_name": "Ada L."}, {"id": 5}],
        "partnerships": [[3, 4]],
        "circles": [{"id": 7, "name": "Books", "members": [2, 5]}],
        "conversations": [{"id": 10, "participants": [1, 5]}],
    }
    with trio.fail_after(10):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(first)
            await store.import_directory(second)
            data = await store.load_directory()
    assert data.users == {1: "Ada L.", 2: "user 2", 3: "user 3", 4: "user 4", 5: ""}
    assert data.partnerships == {(1, 2), (3, 4)}  # added, never removed
    assert data.circles == {7: ("Books", frozenset({2, 5})), 8: ("Chess", frozenset({3, 4}))}
    assert data.conversations == {10: frozenset({1, 5}), 11: frozenset({3, 4})}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            {"users": [{"id": 1}, {"id": 2}, {"id": 3}, {"id": -4}], "partnerships": [[1, 2]]},
            "users[3].id: must be a positive integer",
        ),
        (
            {"users": [{"id": 9, "display_name": "New"}], "partnerships": [[9, 404]]},
            "partnerships[0][1]: user 404 is not in users",
        ),
        (
            {"users": [{"id": 9}], "circles": [{"id": 7, "name": "x", "members": [9, 1, 405]}]},
            "circles[0].members[2]: user 405 is not in users",
        ),
        ({"users": [{"id": 1, "display_name": "A\x00"}]}, "users[0].display_name: must not"),
    ],
)
async def test_malformed_import_changes_nothing_and_names_the_first_bad_entry(
    store_url, bad, message
):
    with trio.fail_after(10):
        async with open_store(store_url, options=FAST) as store:
            await store.import_directory(
                directory(2, circles=[{"id": 7, "name": "Book club", "members": [1, 2]}])
            )
            before = await store.export_directory()
            with pytest.raises(DirectoryFileError) as caught:
                await store.import_directory(bad)
            assert str(caught.value).startswith(message)
            assert await store.export_directory() == before
            assert store.ready()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_url(request):
    return request.getfixturevalue(f"{request.param}_url")


async def test_a_status_another_writer_left_reads_as_offline(sql_url):
    from storage.url import parse_url

    from .helpers import pg

    sql = "UPDATE user_presence SET status = 'busy' WHERE user_id = 1"
    with trio.fail_after(10):
        async with open_store(sql_url, options=FAST) as store:
            await store.import_directory(directory(1))
            store.persist(record(1, "online", NOW))
            await store.flush()
        parsed = parse_url(sql_url)
        if parsed.kind == "sqlite":
            import sqlite3

            with sqlite3.connect(parsed.path) as conn:
                conn.execute(sql)
        else:
            await pg(parsed.dsn, lambda c: c.execute(sql))
        async with open_store(sql_url, options=FAST, mark_offline_on_start=False) as store:
            assert_same_rows(as_rows(await store.load_presence([1])), {1: ("offline", NOW)})
            assert store.ready() and store.statistics().degraded_reads == 0
