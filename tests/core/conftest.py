"""Core tests run on MockClock(autojump_threshold=0) with the memory store: `running()` is
the service without the web layer, for tests of its parts (registry, supervision, reads);
tests of the rules as clients see them use the testing kit (`presence` fixture)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import orjson

from presence_actors import DirectoryData, MemoryStore, Timing, WallClock, open_presence

# 2024-01-01T12:00:00Z: every last_seen in these tests is an offset from it.
T0 = 1_704_110_400.0


def directory(**kwargs) -> DirectoryData:
    users = kwargs.pop("users", range(1, 6))
    return DirectoryData(users={uid: f"user {uid}" for uid in users}, **kwargs)


# Users 1-2-3 share conversation 10; 1 and 2 are partners; 4 sees only 5 (partners).
DEFAULT_DIRECTORY = directory(
    partnerships=frozenset({(1, 2), (4, 5)}),
    conversations={10: frozenset({1, 2, 3})},
)


@asynccontextmanager
async def running(data: DirectoryData = DEFAULT_DIRECTORY, **timing):
    """A service on a memory store, its wall clock pinned to T0 at trio time 'now'."""
    store = MemoryStore(data)
    async with open_presence(store, Timing(**timing), WallClock(T0)) as service:
        yield service


async def next_message(outbox) -> dict:
    """The next frame for one connection, parsed (a batch must hold exactly one)."""
    frames = await outbox.next_batch()
    assert len(frames) == 1, frames
    return orjson.loads(frames[0])


async def collect(outbox, count: int) -> list[dict]:
    """The next `count` frames for one connection, across batches, parsed."""
    frames: list[dict] = []
    while len(frames) < count:
        frames.extend(orjson.loads(frame) for frame in await outbox.next_batch())
    assert len(frames) == count, frames
    return frames
