"""A start that fails changes nothing; `mark_offline` runs once the node listens (SPEC §5, §13).

Opening a store writes no status. `Store.mark_offline(except_users)` sets offline, keeping
`last_seen`, only what earlier runs left: never a user a live node holds (`except_users`),
never a row written since this store opened. On every backend.
"""

from __future__ import annotations

import time

import trio

from storage import open_store

from .helpers import FAST, assert_same_rows, directory, record, rows_in_database

NOW = time.time()
EARLIER_RUN = {1: ("online", NOW - 5), 2: ("away", NOW - 50), 3: ("online", NOW - 9)}


async def _left_by_an_earlier_run(url: str) -> None:
    async with open_store(url, options=FAST) as store:
        await store.import_directory(directory(5))
        for uid, (status, seen) in EARLIER_RUN.items():
            store.persist(record(uid, status, seen))
        store.persist(record(4, "offline", NOW - 99))


async def test_opening_and_closing_a_store_changes_no_status(store_url):
    """What a `serve` that fails after opening its store (port taken, bad key) does."""
    with trio.fail_after(20):
        await _left_by_an_earlier_run(store_url)
        before = await rows_in_database(store_url)
        async with open_store(store_url, options=FAST) as store:
            assert store.ready()
        assert await rows_in_database(store_url) == before
        assert before[1][0] == "online"


async def test_mark_offline_spares_live_users_and_rows_written_since_open(store_url):
    with trio.fail_after(20):
        await _left_by_an_earlier_run(store_url)
        async with open_store(store_url, options=FAST) as store:
            store.persist(record(5, "online", NOW))  # connected as soon as we listened
            await store.flush()
            changed = await store.mark_offline(except_users={3})  # a live node holds 3
            assert changed == 2
            assert await store.mark_offline(except_users={3}) == 0  # twice: nothing more
            got = await store.load_presence([1, 2, 3, 4, 5])
    expected = {
        1: ("offline", NOW - 5),  # last_seen kept
        2: ("offline", NOW - 50),
        3: ("online", NOW - 9),
        4: ("offline", NOW - 99),
        5: ("online", NOW),
    }
    assert_same_rows(await rows_in_database(store_url), expected)
    assert_same_rows({u: (r.status.value, r.last_seen) for u, r in got.items()}, expected)


async def test_mark_offline_on_start_is_still_available_for_a_single_process_tool(store_url):
    with trio.fail_after(20):
        await _left_by_an_earlier_run(store_url)
        async with open_store(store_url, options=FAST, mark_offline_on_start=True):
            pass
    rows = await rows_in_database(store_url)
    assert {uid: status for uid, (status, _) in rows.items()} == dict.fromkeys(
        (1, 2, 3, 4), "offline"
    )
