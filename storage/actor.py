"""The storage actor: the one task tree that touches the database.

It owns the backend (for Postgres: the trio-asyncio loop and the pool), flushes the
write-behind buffer every `flush_interval` or as soon as `flush_threshold` snapshots are
pending, retries failures with capped exponential backoff, answers read requests, and on
close (or cancellation) flushes what is pending, shielded, within `close_deadline`.
"""

from __future__ import annotations

import contextlib
import logging

import trio

from .backend import Backend, BackendOpener
from .directory_file import DirectoryFileError
from .state import (
    Flush,
    ImportDirectory,
    LoadDirectory,
    LoadPresence,
    Request,
    SharedState,
    StoreUnavailable,
    describe,
)
from .writebehind import backoff_delay

log = logging.getLogger("storage")


async def run_storage_actor(
    open_backend: BackendOpener,
    state: SharedState,
    requests: trio.MemoryReceiveChannel[Request],
    mark_offline_on_start: bool,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Open the backend in this task, prepare the schema, then serve until closed."""
    opts = state.options
    async with open_backend() as backend:
        with trio.fail_after(opts.connect_timeout + opts.operation_timeout):
            applied = await backend.migrate()
            offline = await backend.mark_all_offline() if mark_offline_on_start else 0
        log.info("storage ready: migrations applied %s, %d statuses set offline", applied, offline)
        actor = StorageActor(backend, state)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor.serve, requests, nursery)
            task_status.started()
            try:
                await actor.flush_loop()
            finally:
                await actor.drain()
                nursery.cancel_scope.cancel()


class StorageActor:
    def __init__(self, backend: Backend, state: SharedState) -> None:
        self.backend = backend
        self.state = state
        self._flush_lock = trio.Lock()  # one batch in flight at a time
        self._last_ok = trio.current_time()

    # -- writes ---------------------------------------------------------------------

    async def flush_loop(self) -> None:
        """Flush on the interval or the threshold; back off after failures; stop on close."""
        st, opts = self.state, self.state.options
        next_flush = trio.current_time() + opts.flush_interval
        while not st.closing.is_set():
            if st.consecutive_failures:
                delay = backoff_delay(st.consecutive_failures, opts.backoff_base, opts.backoff_cap)
                with trio.move_on_after(delay):
                    await st.closing.wait()
            elif len(st.pending) < opts.flush_threshold:
                with trio.move_on_at(next_flush):
                    await st.wake.wait()
            if st.closing.is_set():
                return
            st.wake = trio.Event()
            next_flush = trio.current_time() + opts.flush_interval
            if len(st.pending):
                await self.flush_once()
            elif (
                st.consecutive_failures
                or trio.current_time() - self._last_ok >= opts.health_interval
            ):
                await self._ping()

    async def flush_once(self) -> bool | None:
        """Write one batch: True if written, False if it failed (and was kept), None if idle."""
        st = self.state
        async with self._flush_lock:
            if not len(st.pending):
                return None
            batch = st.pending.take(st.options.max_batch)
            started = trio.current_time()
            try:
                with trio.fail_after(st.options.operation_timeout):
                    written = await self.backend.upsert(batch)
            except Exception as exc:
                st.pending.failed()
                self._failed(exc, f"flush of {len(batch)}")
                return False
            except BaseException:
                st.pending.failed()  # cancelled mid-write: writing it again is harmless
                raise
            st.pending.committed()
            st.cache.update(r for r in batch if r.user_id in written)
            st.dropped_rows += len(batch) - len(written)
            st.flushes += 1
            st.flushed_rows += len(written)
            st.last_flush_seconds = trio.current_time() - started
            self._succeeded()
            return True

    async def _ping(self) -> None:
        try:
            with trio.fail_after(self.state.options.operation_timeout):
                await self.backend.ping()
        except Exception as exc:
            self._failed(exc, "health check")
        else:
            self._succeeded()

    def _failed(self, exc: BaseException, what: str, counted: bool = True) -> None:
        st = self.state
        first = st.consecutive_failures == 0
        st.failed_flushes += counted
        st.consecutive_failures += 1
        st.ready = False
        st.last_error = describe(exc)
        log.warning(
            "storage: %s failed (%d in a row, %d pending): %s",
            what,
            st.consecutive_failures,
            len(st.pending),
            st.last_error,
            exc_info=first,
        )

    def _succeeded(self) -> None:
        st = self.state
        if st.consecutive_failures:
            log.info("storage: database reachable again after %d failures", st.consecutive_failures)
        st.consecutive_failures = 0
        st.ready = True
        self._last_ok = trio.current_time()

    async def drain(self) -> None:
        """Flush everything pending before `close_deadline`, even if we are being cancelled."""
        st, opts = self.state, self.state.options
        with trio.CancelScope(shield=True, deadline=trio.current_time() + opts.close_deadline):
            while len(st.pending):
                if await self.flush_once() is False:
                    await trio.sleep(min(0.5, opts.backoff_base))
        st.closed = True  # persist() now counts what it is handed as lost
        st.lost_on_close = len(st.pending.snapshot())
        if st.lost_on_close:
            log.error("storage: closed with %d snapshots unwritten", st.lost_on_close)

    # -- requests -------------------------------------------------------------------

    async def serve(self, requests: trio.MemoryReceiveChannel[Request], nursery) -> None:
        async with requests:
            async for request in requests:
                nursery.start_soon(self._answer, request)

    async def _answer(self, request: Request) -> None:
        async with request.reply:
            try:
                result: tuple[bool, object] = (True, await self._perform(request))
            except Exception as exc:
                result = (False, exc)
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                request.reply.send_nowait(result)  # unless the caller gave up waiting

    async def _perform(self, request: Request) -> object:
        opts = self.state.options
        timeout = opts.read_timeout if isinstance(request, LoadPresence) else opts.operation_timeout
        try:
            with trio.fail_after(timeout):
                return await self._dispatch(request)
        except (DirectoryFileError, StoreUnavailable):
            raise
        except Exception as exc:
            self._failed(exc, type(request).__name__, counted=False)  # unready until a flush
            raise StoreUnavailable(describe(exc)) from exc

    async def _dispatch(self, request: Request) -> object:
        backend, st = self.backend, self.state
        match request:
            case LoadPresence(user_ids=ids):
                rows = await backend.fetch_presence(ids)
                st.cache.fill(rows)
                return rows
            case LoadDirectory():
                return await backend.fetch_directory()
            case ImportDirectory(doc=doc):
                return await backend.import_directory(doc)
            case Flush():
                while len(st.pending) or st.pending.in_flight:
                    if await self.flush_once() is False:
                        raise StoreUnavailable(f"flush failed: {st.last_error}")
                return None
        raise AssertionError(f"unknown request {request!r}")
