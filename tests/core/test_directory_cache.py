"""DirectoryCache: SPEC §4's reloads with their real numbers, on the autojump clock: a
store with a directory version is polled every 0.5 s and reloaded only when it moved; one
without is reloaded every 30 s; a denied lookup reloads at once, at most once per second."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from presence_actors import DirectoryData, MemoryStore, NotFound, Timing, WallClock, open_presence

from .conftest import DEFAULT_DIRECTORY, T0, running

# The default directory plus a partnership 3-4: what an import elsewhere changed.
CHANGED = DirectoryData(
    users=DEFAULT_DIRECTORY.users,
    partnerships=DEFAULT_DIRECTORY.partnerships | {(3, 4)},
    conversations=DEFAULT_DIRECTORY.conversations,
)


class CountingStore(MemoryStore):
    """A memory store that counts directory loads and version reads, and can hold a load
    open or fail the version read."""

    def __init__(self, directory: DirectoryData) -> None:
        super().__init__(directory)
        self.loads = self.version_reads = 0
        self.gate: trio.Event | None = None
        self.version_error: Exception | None = None

    async def load_directory(self) -> DirectoryData:
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        return self.directory

    async def load_directory_version(self) -> int:
        self.version_reads += 1
        if self.version_error is not None:
            raise self.version_error
        return self.version


class VersionlessStore(CountingStore):
    """A store without a directory version (the port does not require one)."""

    load_directory_version = None  # type: ignore[assignment]


@asynccontextmanager
async def counting(store_class=CountingStore, **timing):
    """A service on a `CountingStore`, started at T0: yields (service, store)."""
    store = store_class(DEFAULT_DIRECTORY)
    async with open_presence(store, Timing(**timing), WallClock(T0)) as service:
        yield service, store


async def test_a_changed_version_is_loaded_within_half_a_second(autojump_clock):
    # Regression (issue 8.3): a CLI import reached running nodes only at the 30 s reload.
    with trio.fail_after(120):
        async with counting() as (service, store):
            await trio.sleep(0.25)
            assert not service.directory.can_see(3, 4)
            store.directory = CHANGED
            await trio.sleep(0.26)  # the next poll, at 0.5 s
            assert service.directory.can_see(3, 4)


async def test_an_unchanged_directory_costs_one_version_read_per_poll(autojump_clock):
    with trio.fail_after(120):
        async with counting() as (_service, store):
            loads, reads = store.loads, store.version_reads
            await trio.sleep(60.1)
            assert store.loads == loads  # no reload, not even the 30 s one
            assert store.version_reads == reads + 120


async def test_a_store_without_a_version_is_reloaded_every_30_seconds(autojump_clock):
    with trio.fail_after(120):
        async with counting(VersionlessStore) as (service, store):
            assert not service.directory.can_see(3, 4)
            store.directory = CHANGED
            await trio.sleep(29.9)
            assert not service.directory.can_see(3, 4)
            await trio.sleep(0.2)
            assert service.directory.can_see(3, 4)


async def test_a_poll_of_zero_reloads_every_30_seconds_whatever_the_version(autojump_clock):
    # Directory tables replaced by views: their version never moves.
    with trio.fail_after(120):
        async with counting(directory_poll=0) as (_service, store):
            loads = store.loads
            await trio.sleep(30.1)
            assert store.loads == loads + 1
            assert store.version_reads == 0


async def test_a_failing_poll_keeps_the_directory_and_polls_again(autojump_clock):
    with trio.fail_after(120):
        async with counting() as (service, store):
            store.version_error = OSError("database down")
            store.directory = CHANGED
            await trio.sleep(5)
            assert not service.directory.can_see(3, 4)
            store.version_error = None
            await trio.sleep(0.51)  # the next poll
            assert service.directory.can_see(3, 4)


async def test_a_denied_lookup_refreshes_the_directory_at_once(autojump_clock):
    with trio.fail_after(60):
        async with running() as service:
            await trio.sleep(2)
            service.store.directory = CHANGED
            view = await service.presence(3, 4)
            assert view.user_id == 4
            with pytest.raises(NotFound):
                await service.presence(3, 5)


async def test_denied_lookups_reload_at_most_once_per_second(autojump_clock):
    with trio.fail_after(60):
        async with counting() as (service, store):
            await trio.sleep(5)
            loads = store.loads
            for _ in range(10):  # a stranger, asked for again and again within 0.99 s
                with pytest.raises(NotFound):
                    await service.presence(3, 4)
                await trio.sleep(0.099)
            assert store.loads == loads + 1
            await trio.sleep(0.02)  # one second after that reload
            with pytest.raises(NotFound):
                await service.presence(3, 4)
            assert store.loads == loads + 2


async def test_the_throttle_is_a_timing_knob(autojump_clock):
    with trio.fail_after(60):
        async with counting(directory_min_refresh=0) as (service, store):
            loads = store.loads
            for _ in range(3):
                await trio.sleep(0.001)
                with pytest.raises(NotFound):
                    await service.presence(3, 4)
            assert store.loads == loads + 3


async def test_reloads_asked_while_one_runs_use_it(autojump_clock):
    with trio.fail_after(60):
        async with counting() as (service, store):
            await trio.sleep(5)
            loads, store.gate = store.loads, trio.Event()
            async with trio.open_nursery() as nursery:
                for _ in range(5):
                    nursery.start_soon(service.refresh_directory)
                await trio.testing.wait_all_tasks_blocked()  # one loads, four queue behind it
                store.gate.set()
            assert store.loads == loads + 1


async def test_forced_reloads_asked_while_one_runs_share_one_more_load(autojump_clock):
    # The load that was running may have begun before the change they were forced for.
    with trio.fail_after(60):
        async with counting() as (service, store):
            loads, store.gate = store.loads, trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(service.refresh_directory, True)
                await trio.testing.wait_all_tasks_blocked()
                store.directory = CHANGED  # written while that load runs
                for _ in range(4):
                    nursery.start_soon(service.refresh_directory, True)
                await trio.testing.wait_all_tasks_blocked()
                store.gate.set()
            assert store.loads == loads + 2
            assert service.directory.can_see(3, 4)


async def test_a_forced_refresh_loads_even_at_the_instant_of_the_last_load(autojump_clock):
    # Regression: the forced reload compared times, so on a clock that had not moved since
    # the last load (MockClock; the demo import right after start) it loaded nothing.
    with trio.fail_after(60):
        async with counting() as (service, store):
            loads = store.loads
            store.directory = CHANGED
            directory = await service.refresh_directory(force=True)
            assert store.loads == loads + 1
            assert directory.can_see(3, 4)


async def test_a_lookup_that_is_allowed_loads_nothing(autojump_clock):
    with trio.fail_after(60):
        async with counting() as (service, store):
            await trio.sleep(5)
            loads = store.loads
            assert [view.user_id for view in await service.presences(1, [1, 2, 3])] == [1, 2, 3]
            assert (await service.presence(1, 2)).user_id == 2
            assert await service.directories.check_or_refresh(lambda d: d.exists(5))
            assert store.loads == loads


async def test_an_unchanged_directory_keeps_its_snapshot_and_cache(autojump_clock):
    with trio.fail_after(120):
        async with counting(VersionlessStore) as (service, store):
            before = service.directory
            assert before.visible(1) == {1, 2, 3}
            await trio.sleep(31)
            assert store.loads == 2  # the 30 s reload found nothing new
            assert service.directory is before
            store.directory = CHANGED
            await trio.sleep(30)
            assert service.directory is not before
            assert service.directory.visible(3) == {1, 2, 3, 4}
