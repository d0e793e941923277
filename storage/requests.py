"""The storage actor's answers to requests: reads, imports, mark-offline, flush-now.

Each request is answered through its `ReplySlot` by its deadline, in a task of its own (a
slow import does not hold up a read) — except presence reads, which share statements: the
reads waiting when one statement ends go out together in the next (a node starting 10,000
user actors asks for 10,000 rows in a handful of statements, not 10,000 of them). A read the
database cannot answer in time is answered from memory where memory knows enough
(presence: `{}`, the caller has the buffer and cache; the directory and its version: the
last ones loaded) and counted as degraded. While the database is known to be down such
reads do not even ask it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from .backend import Backend
from .directory_file import DirectoryFileError
from .errors import StoreUnavailable, describe
from .flush_rules import Health
from .messages import (
    FlushPending,
    ImportDirectory,
    LoadDirectory,
    LoadDirectoryVersion,
    LoadPresence,
    MarkOffline,
    Request,
)
from .writebehind import WriteBehind

if TYPE_CHECKING:
    from .actor import StorageActor

CLOSED = "the store closed before answering"
READ_BATCH = 5000  # most user ids asked for by one presence read statement


class RequestServer:
    """The request half of the storage actor; it keeps the last directory and version read."""

    def __init__(self, actor: StorageActor, backend: Backend, buffer: WriteBehind) -> None:
        self._actor = actor
        self._backend = backend
        self._buffer = buffer
        self._last: dict[str, Any] = {}  # "directory", "version": the last ones read
        self._reads: deque[LoadPresence] = deque()  # presence reads waiting for a statement
        self._reads_waiting = trio.Event()

    async def serve(self, nursery: trio.Nursery) -> None:
        mailbox = self._actor.mailbox
        nursery.start_soon(self._read_presence)
        while True:
            request = await mailbox.receive()
            if isinstance(request, LoadPresence):
                self._reads.append(request)
                self._reads_waiting.set()
            else:
                nursery.start_soon(self._answer, request)

    def refuse_queued(self) -> None:
        """The actor stopped: fail what is still queued rather than leave callers waiting."""
        self._actor.mailbox.close()
        waiting, self._reads = list(self._reads), deque()
        while True:
            try:
                waiting.append(self._actor.mailbox.receive_nowait())
            except trio.WouldBlock:
                break
        for request in waiting:
            request.reply.fail(StoreUnavailable(CLOSED))

    async def _answer(self, request: Request) -> None:
        try:
            request.reply.set(await self._perform(request))
        except Exception as exc:
            request.reply.fail(exc)
        finally:
            request.reply.fail(StoreUnavailable(CLOSED))  # cancelled: no-op once answered

    async def _perform(self, request: Request) -> object:
        backend = self._backend
        match request:
            case LoadDirectory(stale_ok=stale_ok, deadline=deadline):
                return await self._fresh_or_last(
                    "directory", stale_ok, deadline, backend.fetch_directory
                )
            case LoadDirectoryVersion(deadline=deadline):
                return await self._fresh_or_last(
                    "version", True, deadline, backend.fetch_directory_version
                )
            case ImportDirectory(doc=doc, replace=replace, deadline=deadline):
                removed = await self._database(
                    deadline, "directory import", backend.import_directory, doc, replace
                )
                if replace:
                    self._buffer.cache.clear()
                return removed
            case MarkOffline(except_users=keep, deadline=deadline):
                return await self._database(deadline, "mark offline", backend.mark_offline, keep)
            case FlushPending(deadline=deadline):
                return await self._flush(deadline)
        raise AssertionError(f"unknown request {request!r}")

    async def _database(
        self, deadline: float, what: str, fn: Callable[..., Awaitable[Any]], *args: Any
    ) -> Any:
        """`await fn(*args)` by `deadline`; a database failure becomes StoreUnavailable."""
        try:
            with trio.fail_at(deadline):
                return await fn(*args)
        except DirectoryFileError:
            raise  # the file is wrong, not the database
        except Exception as exc:
            self._actor.operation_failed(exc, what)
            raise StoreUnavailable(describe(exc)) from exc

    async def _read_presence(self) -> None:
        """Answer the presence reads that wait, a statement for as many as fit in one."""
        while True:
            await self._reads_waiting.wait()
            self._reads_waiting = trio.Event()
            while self._reads:
                batch = self._take_reads()
                try:
                    rows = await self._rows(batch)
                except BaseException:  # cancelled: the store is closing
                    for request in batch:
                        request.reply.fail(StoreUnavailable(CLOSED))
                    raise
                for request in batch:
                    if rows is None:
                        self._actor.degraded()
                    found = rows or {}
                    request.reply.set({u: found[u] for u in request.user_ids if u in found})

    def _take_reads(self) -> list[LoadPresence]:
        """Waiting reads that still have time, up to READ_BATCH ids; late ones get {} now."""
        now, batch, ids = trio.current_time(), [], 0
        while self._reads and ids < READ_BATCH:
            request = self._reads.popleft()
            if request.deadline <= now:
                self._actor.degraded()
                request.reply.set({})
            else:
                batch.append(request)
                ids += len(request.user_ids)
        return batch

    async def _rows(self, batch: list[LoadPresence]) -> dict | None:
        """The stored rows of the batch's users, by its earliest deadline; None if the
        database is down or did not answer in time."""
        if not batch:
            return {}
        if self._actor.health is Health.DOWN:
            return None
        ids = sorted({uid for request in batch for uid in request.user_ids})
        deadline = min(request.deadline for request in batch)
        fetch = self._backend.fetch_presence
        try:
            rows = await self._database(deadline, "presence read", fetch, ids)
        except StoreUnavailable:
            return None
        self._buffer.cache.fill(rows)
        return {row.user_id: row for row in rows}

    async def _fresh_or_last(
        self, key: str, stale_ok: bool, deadline: float, fetch: Callable[[], Awaitable[Any]]
    ) -> Any:
        """A fresh read; if the database cannot give one and `stale_ok`, the last one read."""
        last = self._last.get(key)
        stale_ok = stale_ok and last is not None
        if stale_ok and self._actor.health is Health.DOWN:
            self._actor.degraded()
            return last
        try:
            value = await self._database(deadline, f"{key} read", fetch)
        except StoreUnavailable:
            if not stale_ok:
                raise
            self._actor.degraded()
            return last
        self._last[key] = value
        return value

    async def _flush(self, deadline: float) -> None:
        slot = self._actor.flush_all()
        with trio.move_on_at(deadline):
            return await slot.wait()
        self._actor.forget_flush(slot)
        raise StoreUnavailable("the flush did not finish by its deadline")
