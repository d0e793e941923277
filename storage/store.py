"""`open_store(url)`: the storage actor behind a `PresenceStore` handle.

The handle is what the rest of the service holds. `persist` only touches the in-memory
write-behind buffer (never awaits, never raises); everything that needs the database is a
request to the actor, carrying a deadline: a read never waits longer than `read_timeout`,
anything else than `operation_timeout`. The handle works from any trio task.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial

import trio

from presence_actors.mailbox import ReplySlot
from presence_actors.model import PresenceRecord
from presence_actors.ports import DirectoryData

from .actor import StorageActor, run_storage_actor
from .backend import BackendOpener, Trace
from .directory_file import export_shape, parse_directory
from .errors import StoreUnavailable, describe
from .messages import (
    FlushPending,
    ImportDirectory,
    LoadDirectory,
    LoadDirectoryVersion,
    LoadPresence,
    MarkOffline,
)
from .options import StoreOptions
from .statistics import StoreStatistics
from .url import StoreURL, parse_url
from .writebehind import MAX_USER_ID, WriteBehind

log = logging.getLogger("storage")


class Store:
    """A handle on a running storage actor; implements `presence_actors.ports.PresenceStore`."""

    def __init__(self, actor: StorageActor, buffer: WriteBehind, options: StoreOptions) -> None:
        self._actor = actor
        self._buffer = buffer
        self._options = options

    def persist(self, record: PresenceRecord) -> None:
        """Queue a snapshot (latest per user wins). Never blocks, never raises."""
        count = self._buffer.offer(record, trio.current_time())
        if count == 1 or count >= self._options.flush_threshold:
            self._actor.wake()  # a new oldest snapshot, or the threshold: look again

    async def load_presence(self, user_ids: Iterable[int]) -> dict[int, PresenceRecord]:
        """Pending snapshots first, then the read cache, then the database (by `read_timeout`;
        while it cannot answer, users memory does not know are simply absent)."""
        wanted = list(dict.fromkeys(user_ids))
        found = self._buffer.lookup(wanted)
        missing = [u for u in wanted if u not in found and type(u) is int and 0 < u <= MAX_USER_ID]
        if not missing:
            return found
        try:
            request = partial(LoadPresence, tuple(missing))
            rows = await self._ask(request, self._options.read_timeout)
        except StoreUnavailable as exc:
            log.warning("storage: presence read answered from memory: %s", exc)
            rows = {}
        # Re-read the buffer: a snapshot persisted while we waited is newer than the row.
        later = self._buffer.lookup(missing)
        for uid in missing:
            row = later.get(uid) or rows.get(uid)
            if row is not None:
                found[uid] = row
        return {uid: found[uid] for uid in wanted if uid in found}

    async def load_directory(self) -> DirectoryData:
        """The directory, by `read_timeout`; while the database cannot answer, the last one
        loaded. Raises StoreUnavailable if there is none."""
        return await self._ask(partial(LoadDirectory, True), self._options.read_timeout)

    async def load_directory_version(self) -> int:
        """The directory's change counter (one row), by `read_timeout`; while the database
        cannot answer, the last one read. Read it *before* `load_directory`: a change between
        the two then shows as a new version at the next poll, never as a missed one.
        Raises StoreUnavailable if none was ever read."""
        return await self._ask(LoadDirectoryVersion, self._options.read_timeout)

    async def import_directory(self, data: object, *, replace: bool = False) -> dict[str, int]:
        """Upsert a SPEC §12 directory in one transaction; with `replace`, the directory
        becomes exactly the file (what it does not name is removed, with its presence rows).

        Returns the counts removed by section (empty without `replace`). Raises
        DirectoryFileError if the file is malformed (nothing changes), StoreUnavailable if
        the database cannot do it.
        """
        doc = parse_directory(data)
        request = partial(ImportDirectory, doc, replace)
        return await self._ask(request, self._options.operation_timeout)

    async def export_directory(self) -> dict:
        """The directory in the SPEC §12 shape, straight from the database (never stale).
        Raises StoreUnavailable."""
        request = partial(LoadDirectory, False)
        return export_shape(await self._ask(request, self._options.operation_timeout))

    async def mark_offline(self, except_users: Collection[int] = frozenset()) -> int:
        """Set offline (keeping last_seen) every non-offline status earlier runs left: rows
        nobody wrote since this store opened, except `except_users`' (held by live nodes).
        Call it once the node is listening. The rows changed; raises StoreUnavailable."""
        request = partial(MarkOffline, frozenset(except_users))
        return await self._ask(request, self._options.operation_timeout)

    async def flush(self) -> None:
        """Write everything pending now; raises StoreUnavailable if the database refuses."""
        await self._ask(FlushPending, self._options.operation_timeout)

    def ready(self) -> bool:
        return self._actor.ready()

    def statistics(self) -> StoreStatistics:
        return self._actor.statistics()

    async def _ask(self, make_request, timeout: float):
        deadline = trio.current_time() + timeout
        reply = ReplySlot()
        request = make_request(deadline=deadline, reply=reply)
        mailbox = self._actor.mailbox
        try:
            try:
                mailbox.send_nowait(request)
            except trio.WouldBlock:
                with trio.fail_at(deadline):
                    await mailbox.send(request)
        except trio.BrokenResourceError:
            raise StoreUnavailable("the store is closed") from None
        except trio.TooSlowError:
            raise StoreUnavailable("the storage actor is overloaded") from None
        # No deadline of our own: the actor answers every request by its deadline, fails it
        # if it is cancelled, and refuses what is queued when it stops. A second deadline
        # here would, after a stall of the trio thread (a node at 100 % CPU runs late), expire
        # in the same scheduler pass as the actor's and win over its answer from memory.
        return await reply.wait()


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
    mark_offline_on_start: bool = False,
    trace: Trace | None = None,
) -> AbstractAsyncContextManager[Store]:
    """Run a storage actor for `url` (postgresql://, sqlite:///, memory://) in its own nursery.

    On entry: migrations; with `mark_offline_on_start`, also `mark_offline()` (a serving
    node should rather call `Store.mark_offline` once it is listening: a start that fails
    must change nothing). On exit: pending snapshots are flushed within
    `options.close_deadline`. `trace(sql)` sees every statement sent (for tests).
    Raises ValueError for a bad URL (before anything is opened), StoreUnavailable if the
    database cannot be opened.
    """
    parsed = parse_url(url)
    options = options or StoreOptions()
    opener = backend_opener(parsed, options, trace)
    return open_store_with(opener, options, mark_offline_on_start, parsed.redacted())


@asynccontextmanager
async def open_store_with(
    opener: BackendOpener,
    options: StoreOptions,
    mark_offline_on_start: bool = False,
    name: str = "store",
) -> AsyncIterator[Store]:
    """`open_store` for any backend opener (tests use it to inject failures)."""
    buffer = WriteBehind(options.cache_size)
    try:
        async with trio.open_nursery() as nursery:
            try:
                actor = await nursery.start(
                    run_storage_actor, opener, options, buffer, mark_offline_on_start
                )
            except Exception as exc:
                raise StoreUnavailable(f"cannot open {name}: {describe(exc)}") from exc
            try:
                yield Store(actor, buffer, options)
            finally:
                actor.close()
    except BaseExceptionGroup as group:
        # The nursery is an implementation detail: callers see the one error, not a group.
        if len(group.exceptions) != 1:
            raise
        inner = group.exceptions[0]
        raise inner from inner.__cause__
