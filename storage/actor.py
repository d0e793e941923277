"""The storage actor: the one task tree that touches the database.

`flush_loop` is the thin loop over the pure policy in `flush_rules`: ask `next_step`, do
it (write a batch, ping, or wait), report the outcome. Requests (reads, imports,
mark-offline, flush) arrive in its `Mailbox`; each is answered in a task of its own,
through the request's `ReplySlot`, by the request's deadline. Its state (the policy's
`FlushState`, the counters, the last directory) is its own: the `Store` handle shares only
the `WriteBehind` buffer, rings `wake()`, and reads `ready()` and `statistics()`.
"""

from __future__ import annotations

import logging

import trio

from presence_actors.mailbox import Mailbox, ReplySlot

from . import flush_rules as rules
from .backend import Backend, BackendOpener
from .errors import StoreUnavailable, describe
from .flush_rules import Flush, FlushState, Health, Ping, Stop, WaitUntil
from .options import StoreOptions
from .requests import RequestServer
from .statistics import Counters, StoreStatistics
from .writebehind import WriteBehind

log = logging.getLogger("storage")
MAILBOX_SIZE = 256  # requests waiting to be started (each is answered in its own task)


async def run_storage_actor(
    open_backend: BackendOpener,
    options: StoreOptions,
    buffer: WriteBehind,
    mark_offline_on_start: bool,
    *,
    task_status: trio.TaskStatus[StorageActor] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Open the backend in this task, prepare the schema, serve until closed, then flush."""
    async with open_backend() as backend:
        with trio.fail_after(options.connect_timeout + options.operation_timeout):
            applied = await backend.migrate()
            offline = await backend.mark_offline(()) if mark_offline_on_start else 0
        log.info("storage ready: migrations applied %s, %d statuses set offline", applied, offline)
        actor = StorageActor(backend, options, buffer)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(actor.requests.serve, nursery)
                task_status.started(actor)
                try:
                    await actor.flush_loop()
                finally:
                    await actor.drain()
                    nursery.cancel_scope.cancel()
        finally:
            actor.requests.refuse_queued()  # nobody is left waiting for an answer


class StorageActor:
    def __init__(self, backend: Backend, options: StoreOptions, buffer: WriteBehind) -> None:
        self._backend = backend
        self._options = options
        self._buffer = buffer
        self._state: FlushState = rules.opened(trio.current_time(), options)
        self._counters = Counters()
        self._doorbell = trio.Event()
        self._write_started: float | None = None  # the loop's write in flight, if any
        self._flush_waiters: list[ReplySlot] = []  # Store.flush() callers
        self.mailbox: Mailbox = Mailbox(MAILBOX_SIZE)
        self.requests = RequestServer(self, backend, buffer)

    # -- what the handle may call ---------------------------------------------------

    def wake(self) -> None:
        """Look at the backlog again now (a first snapshot, or the threshold, arrived)."""
        self._doorbell.set()

    def close(self) -> None:
        """Refuse new requests; write what is pending within `close_deadline`, then stop."""
        self.mailbox.close()
        self.report(rules.closing(self._state, trio.current_time(), self._options))

    def flush_all(self) -> ReplySlot:
        """A slot set once everything pending now is written, failed if a write fails
        first. The loop does the writing (it is the only writer), at once."""
        slot = ReplySlot()
        if not len(self._buffer.pending) and self._write_started is None:
            slot.set(None)
        else:
            self._flush_waiters.append(slot)
            self.wake()
        return slot

    def forget_flush(self, slot: ReplySlot) -> None:
        """The caller stopped waiting (its deadline passed)."""
        if slot in self._flush_waiters:
            self._flush_waiters.remove(slot)

    def ready(self) -> bool:
        now = trio.current_time()
        return rules.is_ready(self._state, self._write_started, now, self._options)

    @property
    def health(self) -> Health:
        return self._state.health

    def statistics(self) -> StoreStatistics:
        started, now = self._write_started, trio.current_time()
        return self._counters.snapshot(self._buffer, self._state, started, self.ready(), now)

    # -- the loop -------------------------------------------------------------------

    def report(self, state: FlushState) -> None:
        """The policy's new state; the loop looks again (its wait may now be wrong)."""
        before, self._state = self._state.health, state
        if state.health is not before:
            log.info("storage: database %s (was %s)", state.health.value, before.value)
        self._doorbell.set()

    async def flush_loop(self) -> None:
        while True:
            now = trio.current_time()
            backlog = self._buffer.backlog(awaited=bool(self._flush_waiters))
            step = rules.next_step(self._state, backlog, now, self._options)
            match step:
                case WaitUntil(time=time):
                    with trio.move_on_at(time):
                        await self._doorbell.wait()
                    self._doorbell = trio.Event()
                case Flush(deadline=deadline):
                    await self._write_batch(deadline)
                case Ping(deadline=deadline):
                    await self._ping(deadline)
                case Stop():
                    return

    async def drain(self) -> None:
        """Flush what is pending within `close_deadline`, even if we are being cancelled."""
        with trio.CancelScope(shield=True) as scope:
            if self._state.close_by is None:
                self.close()
            assert self._state.close_by is not None
            scope.deadline = self._state.close_by + 1.0  # the policy stops first; a safety net
            await self.flush_loop()
        self._settle_flush_waiters(StoreUnavailable("the store closed before writing it all"))
        lost = self._buffer.close()  # persist() now counts what it is handed as lost
        if lost:
            log.error("storage: closed with %d snapshots unwritten", lost)

    async def _write_batch(self, deadline: float) -> None:
        """Write the oldest pending snapshots; on failure they stay pending, first in line."""
        options, pending = self._options, self._buffer.pending
        batch = pending.take(options.max_flush)
        started = self._write_started = trio.current_time()
        try:
            with trio.fail_at(deadline):
                done = await self._backend.upsert(batch, options.max_batch) if batch else None
        except Exception as exc:
            pending.failed()
            self._counters.failed_flushes += 1
            self.failed(exc, f"flush of {len(batch)}")
            self.report(rules.flush_failed(self._state, trio.current_time(), options))
            self._settle_flush_waiters(StoreUnavailable(f"flush failed: {describe(exc)}"))
            return
        except BaseException:
            pending.failed()  # cancelled mid-write: writing it again is harmless
            raise
        finally:
            self._write_started = None
        now = trio.current_time()
        if done is not None:
            self._buffer.committed(done.written)
            self._counters.flushed(len(batch), done, now - started)
        self.report(rules.flushed(self._state, now, options))
        if not len(pending):
            self._settle_flush_waiters(None)

    def _settle_flush_waiters(self, error: StoreUnavailable | None) -> None:
        waiters, self._flush_waiters = self._flush_waiters, []
        for slot in waiters:
            if error is None:
                slot.set(None)
            else:
                slot.fail(error)

    async def _ping(self, deadline: float) -> None:
        try:
            with trio.fail_at(deadline):
                await self._backend.ping()
        except Exception as exc:
            self.failed(exc, "health check")
            ok = False
        else:
            ok = True
        self.report(rules.pinged(self._state, ok, trio.current_time(), self._options))

    def failed(self, exc: BaseException, what: str) -> None:
        """Count and log a database failure: the first of an outage with its traceback
        (unless it is a plain timeout), pings while down only at debug level."""
        c, health = self._counters, self._state.health
        timeout = isinstance(exc, trio.TooSlowError)
        c.timeouts += timeout
        c.last_error = "no answer by the deadline" if timeout else describe(exc)
        quiet = health is Health.DOWN and what == "health check"  # every second while down
        level = logging.DEBUG if quiet else logging.WARNING
        log.log(
            level,
            "storage: %s failed (%s, %d pending): %s",
            what,
            health.value,
            len(self._buffer.pending),
            c.last_error,
            exc_info=health is Health.HEALTHY and not timeout,
        )

    def operation_failed(self, exc: BaseException, what: str) -> None:
        """A read, an import or a mark-offline failed for a database reason: find out why."""
        self.failed(exc, what)
        self.report(rules.operation_failed(self._state, trio.current_time()))

    def degraded(self) -> None:
        """A read was answered from memory (the database is down, or failed to answer)."""
        self._counters.degraded_reads += 1
