"""`open_store(url)`: the storage actor behind a `PresenceStore` handle.

The handle is what the rest of the service holds. `persist` only touches the in-memory
write-behind buffer; every database read goes to the actor, which owns the connection
(for Postgres, the trio-asyncio loop), so a handle works from any trio task — including
hypercorn request tasks that run outside any trio-asyncio loop.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial

import trio

from presence_actors.model import PresenceRecord
from presence_actors.ports import DirectoryData

from .actor import run_storage_actor
from .backend import BackendOpener, Trace
from .directory_file import export_shape, parse_directory
from .state import (
    Flush,
    ImportDirectory,
    LoadDirectory,
    LoadPresence,
    Request,
    SharedState,
    StoreOptions,
    StoreStatistics,
    StoreUnavailable,
    describe,
)
from .url import StoreURL, parse_url
from .writebehind import MAX_USER_ID, RecentRows, storable

log = logging.getLogger("storage")


class Store:
    """A handle on a running storage actor; implements `presence_actors.ports.PresenceStore`."""

    def __init__(self, state: SharedState, requests: trio.MemorySendChannel[Request]) -> None:
        self._state = state
        self._requests = requests

    def persist(self, record: PresenceRecord) -> None:
        """Queue a snapshot (latest per user wins). Never blocks, never raises."""
        st = self._state
        if not storable(record):
            st.rejected += 1
            return
        if st.closed:
            st.lost_on_close += 1  # nothing will flush it any more
            return
        if st.pending.put(record) >= st.options.flush_threshold:
            st.wake.set()

    async def load_presence(self, user_ids: Iterable[int]) -> dict[int, PresenceRecord]:
        """Pending snapshots first, then the read cache, then the database."""
        wanted = list(dict.fromkeys(user_ids))
        found = self._known(wanted)
        missing = [u for u in wanted if u not in found and type(u) is int and 0 < u <= MAX_USER_ID]
        if not missing:
            return found
        rows = await self._rows_from_database(missing)
        # Re-read the buffer: a snapshot persisted while we waited is newer than the row.
        later = self._known(missing)
        for uid in missing:
            row = later.get(uid) or rows.get(uid)
            if row is not None:
                found[uid] = row
        return {uid: found[uid] for uid in wanted if uid in found}

    async def _rows_from_database(self, user_ids: list[int]) -> dict[int, PresenceRecord]:
        """Rows from the database, or none while it is unreachable: the service keeps
        answering from memory (pending and cached rows) instead of waiting or failing."""
        st = self._state
        if st.ready:
            try:
                return {r.user_id: r for r in await self._ask(partial(LoadPresence, user_ids))}
            except StoreUnavailable as exc:
                log.warning("storage: presence read answered from memory: %s", exc)
        st.degraded_reads += 1
        return {}

    def _known(self, user_ids: Iterable[int]) -> dict[int, PresenceRecord]:
        pending, cache = self._state.pending, self._state.cache
        known = {}
        for uid in user_ids:
            row = pending.get(uid) or cache.get(uid)
            if row is not None:
                known[uid] = row
        return known

    async def load_directory(self) -> DirectoryData:
        """The directory; while the database is unreachable, the last one loaded (if any)."""
        st = self._state
        try:
            data = await self._ask(LoadDirectory)
        except StoreUnavailable as exc:
            if st.last_directory is None:
                raise
            st.degraded_reads += 1
            log.warning("storage: directory answered from the last one loaded: %s", exc)
            return st.last_directory
        st.last_directory = data
        return data

    async def import_directory(self, data: dict) -> None:
        """Upsert a SPEC §12 directory in one transaction; DirectoryFileError if malformed."""
        doc = parse_directory(data)
        await self._ask(partial(ImportDirectory, doc))

    async def export_directory(self) -> dict:
        """The directory in the SPEC §12 shape, straight from the database (never stale)."""
        return export_shape(await self._ask(LoadDirectory))

    async def flush(self) -> None:
        """Write everything pending now; StoreUnavailable if the database refuses."""
        await self._ask(Flush)

    def ready(self) -> bool:
        return self._state.ready and not self._state.closing.is_set()

    def statistics(self) -> StoreStatistics:
        return self._state.statistics()

    async def _ask(self, make_request):
        send, receive = trio.open_memory_channel(1)
        try:
            await self._requests.send(make_request(reply=send))
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise StoreUnavailable("the store is closed") from None
        async with receive:
            try:
                result = await receive.receive()
            except trio.EndOfChannel:
                raise StoreUnavailable("the store closed before answering") from None
        ok, value = result
        if not ok:
            raise value
        return value

    def _close(self) -> None:
        self._state.closing.set()
        self._state.wake.set()
        self._requests.close()


def backend_opener(url: StoreURL, options: StoreOptions, trace: Trace | None) -> BackendOpener:
    """The backend a parsed URL names, opened lazily (inside the actor's task)."""
    if url.kind == "postgresql":
        from .backends.postgres import open_postgres

        return partial(
            open_postgres,
            url.dsn,
            pool_size=options.pool_size,
            connect_timeout=options.connect_timeout,
            trace=trace,
        )
    if url.kind == "sqlite":
        from .backends.sqlite import open_sqlite

        return partial(open_sqlite, url.path, busy_timeout=options.sqlite_busy_timeout, trace=trace)
    from .backends.memory import open_memory

    return partial(open_memory, url.name, trace)


def open_store(
    url: str,
    *,
    options: StoreOptions | None = None,
    mark_offline_on_start: bool = True,
    trace: Trace | None = None,
) -> AbstractAsyncContextManager[Store]:
    """Run a storage actor for `url` (postgresql://, sqlite:///, memory://) in its own nursery.

    On entry: migrations, then (unless told not to) every non-offline status is set
    offline, keeping last_seen. On exit: pending snapshots are flushed within
    `options.close_deadline`. `trace(sql)` sees every statement sent (for tests).
    A bad URL raises ValueError before anything is opened.
    """
    parsed = parse_url(url)
    options = options or StoreOptions()
    opener = backend_opener(parsed, options, trace)
    return open_store_with(opener, options, mark_offline_on_start, parsed.redacted())


@asynccontextmanager
async def open_store_with(
    opener: BackendOpener,
    options: StoreOptions,
    mark_offline_on_start: bool = True,
    name: str = "store",
) -> AsyncIterator[Store]:
    """`open_store` for any backend opener (tests use it to inject failures)."""
    state = SharedState(options, cache=RecentRows(options.cache_size))
    send, receive = trio.open_memory_channel[Request](64)
    store = Store(state, send)
    try:
        async with trio.open_nursery() as nursery:
            try:
                await nursery.start(
                    run_storage_actor, opener, state, receive, mark_offline_on_start
                )
            except Exception as exc:
                raise StoreUnavailable(f"cannot open {name}: {describe(exc)}") from exc
            try:
                yield store
            finally:
                store._close()
    except BaseExceptionGroup as group:
        # The nursery is an implementation detail: callers see the one error, not a group.
        if len(group.exceptions) != 1:
            raise
        inner = group.exceptions[0]
        raise inner from inner.__cause__
