"""SPEC §9's timings with their real numbers, through the storage actor, in no wall time.

Every test runs the real actor and `Store` on the memory backend (with switchable faults,
`helpers.FlakyBackend`) on `autojump_clock`, with `StoreOptions()` as shipped: a flush one
second after the oldest snapshot or at 500 pending, retries backing off 1 … 30 s, a ping
every second while the database does not answer, 10 s to flush on close, reads bounded by
2 s, a write stuck for 3 s making the store unready, writes bounded by 10 s.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import time

import pytest
import trio
import trio.testing

from storage import Health, StoreOptions, StoreUnavailable
from storage.store import open_store_with

from .helpers import FlakyBackend, as_rows, directory, opener, record

SPEC = StoreOptions()
NOW = time.time()


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


async def test_a_snapshot_is_written_one_second_after_it_was_queued(autojump_clock):
    backend = FlakyBackend()
    async with open_store_with(opener(backend), SPEC) as store:
        await store.import_directory(directory(2))
        await trio.sleep(0.25)
        queued = trio.current_time()
        store.persist(record(1, "online", NOW))
        await trio.sleep(0.5)
        store.persist(record(2, "online", NOW))  # a younger one does not restart the clock
        await trio.sleep(0.499)
        assert backend.attempts == []
        assert store.statistics().lag_seconds == pytest.approx(0.999)
        await trio.sleep(0.002)
        assert backend.attempts == [queued + 1.0]
        assert store.statistics().flushed_rows == 2
        assert store.statistics().lag_seconds == 0.0


async def test_the_500th_pending_snapshot_flushes_at_once(autojump_clock):
    backend = FlakyBackend()
    async with open_store_with(opener(backend), SPEC) as store:
        await store.import_directory(directory(500))
        for uid in range(1, 500):
            store.persist(record(uid, "online", NOW))
        await trio.sleep(0.5)
        assert backend.attempts == []  # 499: they wait for the interval
        store.persist(record(500, "online", NOW))
        await trio.testing.wait_all_tasks_blocked()
        assert backend.attempts == [trio.current_time()]
        assert store.statistics().flushed_rows == 500


async def test_refused_writes_retry_after_1_2_4_8_16_30_30_seconds(autojump_clock):
    backend = FlakyBackend()
    async with open_store_with(opener(backend), SPEC) as store:
        await store.import_directory(directory(1))
        backend.refusing = True  # it answers pings, but every write fails
        store.persist(record(1, "online", NOW))
        await trio.sleep(1.0 + 1 + 2 + 4 + 8 + 16 + 30 + 30 + 0.5)
        assert gaps(backend.attempts) == [1, 2, 4, 8, 16, 30, 30]
        stats = store.statistics()
        assert (stats.health, stats.ready, stats.pending) == (Health.FAILING, False, 1)
        assert (stats.failed_flushes, stats.consecutive_failures) == (8, 8)
        backend.refusing = False
        await trio.sleep(30)
        assert store.ready() and store.statistics().pending == 0
        assert as_rows(backend.db.presence) == {1: ("online", NOW)}


async def test_a_database_that_is_down_is_pinged_every_second_and_written_when_back(
    autojump_clock,
):
    backend = FlakyBackend()
    async with open_store_with(opener(backend), SPEC) as store:
        await store.import_directory(directory(2000))
        backend.down = True
        expected, rng = {}, random.Random(4)
        for i in range(20_000):  # never blocks, never raises
            uid = rng.randint(1, 2000)
            store.persist(record(uid, ("online", "away")[i % 2], NOW + i))
            expected[uid] = (("online", "away")[i % 2], NOW + i)
        await trio.sleep(60)
        assert len(backend.attempts) == 1  # no write is tried while nothing answers
        assert set(gaps(backend.pings[-10:])) == {1.0}
        stats = store.statistics()
        assert (stats.health, stats.ready) == (Health.DOWN, False)
        assert stats.pending == len(expected)
        assert stats.lag_seconds == pytest.approx(60)
        backend.down = False
        await trio.sleep(1.0)  # the next ping answers, and the write follows at once
        await trio.testing.wait_all_tasks_blocked()
        assert store.ready()  # not at the end of a 30 s backoff
        assert store.statistics().pending == 0
        assert as_rows(backend.db.presence) == expected


async def test_a_blackholed_write_is_abandoned_and_the_store_turns_unready_in_3_s(
    autojump_clock,
):
    """TCP up, nothing answers: the write in flight ends at its 10 s deadline, readiness
    drops after 3 s, reads answer from memory within their 2 s, and it all recovers at
    once when the database answers again."""
    backend = FlakyBackend()
    async with open_store_with(opener(backend), SPEC) as store:
        await store.import_directory(directory(3))
        store.persist(record(1, "online", NOW))
        await store.flush()
        known = await store.load_directory()
        backend.blackhole = trio.Event()
        store.persist(record(2, "away", NOW))
        await trio.sleep(1.0)  # the interval flush is now in flight, unanswered
        stuck = trio.current_time()
        await trio.sleep(2.999)
        assert store.ready()
        await trio.sleep(0.001)
        assert not store.ready()
        assert store.statistics().stall_seconds == pytest.approx(3.0)
        started = trio.current_time()
        assert await store.load_presence([3]) == {}  # never seen, and the database is mute
        assert await store.load_directory() == known
        assert trio.current_time() - started == pytest.approx(4.0)  # 2 s each, no more
        await trio.sleep(stuck + 10.0 - trio.current_time())
        await trio.testing.wait_all_tasks_blocked()
        stats = store.statistics()
        assert (stats.failed_flushes, stats.timeouts) == (1, 3)
        await trio.sleep(5)
        assert store.statistics().health is Health.DOWN
        started = trio.current_time()
        assert await store.load_presence([3]) == {}  # down: memory answers at once
        assert trio.current_time() == started
        backend.blackhole.set()
        backend.blackhole = None
        await trio.sleep(1.0)
        await trio.testing.wait_all_tasks_blocked()
        assert store.ready()
        assert as_rows(backend.db.presence) == {1: ("online", NOW), 2: ("away", NOW)}


async def test_reads_answer_from_memory_during_an_outage(autojump_clock):
    backend = FlakyBackend()
    async with open_store_with(opener(backend), SPEC) as store:
        await store.import_directory(directory(3))
        store.persist(record(1, "online", NOW))
        store.persist(record(2, "away", NOW))
        await store.flush()
        directory_before = await store.load_directory()
        version_before = await store.load_directory_version()
        store.persist(record(1, "offline", NOW + 1))
        backend.down = True
        got = await store.load_presence([1, 2, 3])
        assert as_rows(got) == {1: ("offline", NOW + 1), 2: ("away", NOW)}
        await trio.testing.wait_all_tasks_blocked()  # the failed read led to a failed ping
        assert not store.ready() and store.statistics().health is Health.DOWN
        assert await store.load_directory() == directory_before  # the last one loaded
        assert await store.load_directory_version() == version_before
        with pytest.raises(StoreUnavailable):
            await store.export_directory()  # an export is never stale
        assert store.statistics().degraded_reads == 3
        backend.down = False
        await trio.sleep(2)
        assert store.ready() and store.statistics().pending == 0
        assert as_rows(backend.db.presence) == {1: ("offline", NOW + 1), 2: ("away", NOW)}


async def test_a_failed_batch_goes_back_under_newer_snapshots(autojump_clock):
    backend = FlakyBackend()
    backend.gate = trio.Event()
    async with open_store_with(opener(backend), SPEC) as store:
        await store.import_directory(directory(2))
        store.persist(record(1, "online", NOW))
        store.persist(record(2, "online", NOW))
        await backend.entered.wait()  # a second later, the batch {1, 2} is in flight
        store.persist(record(1, "away", NOW + 1))  # newer than the one in flight
        newest = {1: ("away", NOW + 1), 2: ("online", NOW)}
        assert as_rows(await store.load_presence([1, 2])) == newest
        backend.down = True
        backend.gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert store.statistics().pending == 2  # one per user, nothing lost
        assert as_rows(await store.load_presence([1, 2])) == newest
        with pytest.raises(StoreUnavailable):
            await store.flush()
        backend.down = False
        await store.flush()  # now, whatever the backoff
        assert store.ready()
        assert as_rows(backend.db.presence) == newest


async def test_close_flushes_at_once_when_the_database_answers(autojump_clock):
    backend = FlakyBackend()
    async with open_store_with(opener(backend), SPEC) as store:
        await store.import_directory(directory(3))
        for uid in (1, 2, 3):
            store.persist(record(uid, "online", NOW))
        started = trio.current_time()
    assert trio.current_time() == started
    assert len(backend.db.presence) == 3 and store.statistics().lost_on_close == 0


async def test_close_gives_up_after_10_seconds_and_counts_what_was_lost(autojump_clock):
    backend = FlakyBackend()
    async with open_store_with(opener(backend), SPEC) as store:
        await store.import_directory(directory(3))
        backend.down = True
        for uid in (1, 2, 3):
            store.persist(record(uid, "online", NOW))
        started = trio.current_time()
    assert trio.current_time() - started == pytest.approx(10.0)
    assert len(backend.attempts) == 20  # retried every 0.5 s meanwhile
    assert store.statistics().lost_on_close == 3
    store.persist(record(1, "away", NOW + 1))  # too late: counted, never raises
    assert store.statistics().lost_on_close == 4
    with pytest.raises(StoreUnavailable):
        await store.load_directory()


async def test_regression_a_stalled_node_still_gets_the_last_directory():
    """F4 on a CPU-starved machine: the trio thread ran many seconds late, a deadline on the
    handle expired in the same scheduler pass as the actor's, and `load_directory` raised
    instead of returning the last directory, which crashed the service's refresh task.
    Real clock: the stall is a blocking sleep on the trio thread."""
    backend = FlakyBackend()
    options = dataclasses.replace(SPEC, read_timeout=0.1)
    async with open_store_with(opener(backend), options) as store:
        await store.import_directory(directory(2))
        known = await store.load_directory()
        backend.blackhole = trio.Event()
        async with trio.open_nursery() as nursery:
            answers = []

            async def read():
                answers.append(await store.load_directory())

            nursery.start_soon(read)
            await trio.testing.wait_all_tasks_blocked()
            time.sleep(0.5)  # the node stalls past every deadline  # noqa: ASYNC251
        assert answers == [known]
        backend.blackhole.set()
