"""DirectoryCache: SPEC §4's reloads (within 30 s; at once for a denied lookup, at most once
per second) with their real numbers, on the autojump clock."""

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
    """A memory store that counts directory loads and can hold one open."""

    def __init__(self, directory: DirectoryData) -> None:
        super().__init__(directory)
        self.loads = 0
        self.gate: trio.Event | None = None

    async def load_directory(self) -> DirectoryData:
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        return self.directory


@asynccontextmanager
async def counting(**timing):
    """A service on a `CountingStore`, started at T0: yields (service, store)."""
    store = CountingStore(DEFAULT_DIRECTORY)
    async with open_presence(store, Timing(**timing), WallClock(T0)) as service:
        yield service, store


async def test_directory_changes_apply_within_30_seconds(autojump_clock):
    with trio.fail_after(120):
        async with running() as service:
            assert not service.directory.can_see(3, 4)
            service.store.directory = CHANGED
            await trio.sleep(29.9)
            assert not service.directory.can_see(3, 4)
            await trio.sleep(0.2)
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
        async with running() as service:
            before = service.directory
            assert before.visible(1) == {1, 2, 3}
            await trio.sleep(31)
            assert service.directory is before
            service.store.directory = CHANGED
            await trio.sleep(30)
            assert service.directory is not before
            assert service.directory.visible(3) == {1, 2, 3, 4}
