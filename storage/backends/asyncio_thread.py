"""An asyncio event loop on a thread of its own, and trio awaiting its coroutines.

asyncpg is an asyncio library. Run through trio-asyncio on the trio thread, every step of
its protocol was one more task in trio's run queue, so a node at 100 % CPU starved its
own database work (F4: flush lag p99 35 s at 5,000 changes/s). Here the loop runs on its
own thread: the database work is scheduled by the OS, not behind the node's traffic, and
the trio side pays two thread hand-offs per call (`run_coroutine_threadsafe` there, trio's
`run_sync_soon` back).

A trio deadline ends the wait at once: the asyncio task is cancelled and *abandoned*, never
awaited, so a database that stops answering cannot hold a trio task past its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

T = TypeVar("T")
log = logging.getLogger("storage")


class AsyncioThread:
    """Start with `start()`, stop with `await stop(timeout)`; `await call(fn, *args)` runs
    `fn(*args)` (a coroutine function) on the loop and returns its result in trio."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(_log_asyncio_error)
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            # Let abandoned calls see their cancellation and release what they hold.
            tasks = asyncio.all_tasks(self.loop)
            for task in tasks:
                task.cancel()
            if tasks:
                self.loop.run_until_complete(asyncio.wait(tasks, timeout=1.0))
        finally:
            self.loop.close()

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """`await fn(*args)` on the loop; cancelling this cancels (and abandons) it there."""
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        future = asyncio.run_coroutine_threadsafe(fn(*args), self.loop)
        future.add_done_callback(lambda _: _run_in_trio(token, done.set))
        try:
            await done.wait()
        except BaseException:
            future.cancel()
            raise
        return future.result()

    async def stop(self, timeout: float) -> None:
        """Stop the loop and wait (bounded, shielded) for its thread to finish."""
        with contextlib.suppress(RuntimeError):  # already closed
            self.loop.call_soon_threadsafe(self.loop.stop)
        with trio.CancelScope(shield=True), trio.move_on_after(timeout):
            await trio.to_thread.run_sync(self._thread.join, abandon_on_cancel=True)
        if self._thread.is_alive():
            log.warning("storage: the database thread did not stop within %.0f s", timeout)


def _run_in_trio(token: trio.lowlevel.TrioToken, fn: Callable[[], object]) -> None:
    with contextlib.suppress(trio.RunFinishedError):  # nobody is waiting any more
        token.run_sync_soon(fn)


def _log_asyncio_error(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Log what asyncio reports (e.g. asyncpg's "Future exception was never retrieved" when
    a connection dies, or an abandoned call failing later) under the storage logger."""
    log.warning(
        "asyncio in the storage loop: %s", context.get("message"), exc_info=context.get("exception")
    )
