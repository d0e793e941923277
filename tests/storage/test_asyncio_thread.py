"""The database thread: asyncio on a thread of its own, awaited from trio (real clock)."""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio

from storage.backends.asyncio_thread import AsyncioThread


async def test_a_call_runs_on_the_thread_and_returns_or_raises_in_trio():
    thread = AsyncioThread("test-loop")
    thread.start()
    try:

        async def where(x: int) -> tuple[str, int]:
            await asyncio.sleep(0)
            return threading.current_thread().name, x * 2

        async def fails() -> None:
            raise KeyError("boom")

        with trio.fail_after(5):
            assert await thread.call(where, 21) == ("test-loop", 42)
            with pytest.raises(KeyError):
                await thread.call(fails)
    finally:
        await thread.stop(5)


async def test_a_deadline_abandons_the_call_at_once_and_cancels_it_there():
    """What keeps a blackholed database from holding a trio task past its deadline: the
    trio side does not wait for asyncio to acknowledge the cancellation."""
    thread = AsyncioThread("test-loop")
    thread.start()
    cancelled = threading.Event()

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()  # a query nobody answers
        except asyncio.CancelledError:
            cancelled.set()
            raise

    try:
        with trio.fail_after(5):
            started = trio.current_time()
            with trio.move_on_after(0.2):
                await thread.call(stuck)
            assert trio.current_time() - started < 0.5
            await trio.to_thread.run_sync(cancelled.wait, 5)
        assert cancelled.is_set()
    finally:
        await thread.stop(5)


async def test_stop_ends_the_thread_even_with_a_call_still_running():
    thread = AsyncioThread("test-loop")
    thread.start()

    async def forever() -> None:
        await asyncio.Event().wait()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(thread.call, forever)
            await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        await thread.stop(5)
    assert not thread._thread.is_alive()
