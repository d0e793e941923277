"""What the storage actor and its handles share: options, counters, messages, errors.

The handle (`Store`) and the actor live in one trio thread, so the write-behind buffer is
touched directly by `persist` (no channel, no await: it can never block) while reads and
writes of the database go to the actor as messages with a one-shot reply channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import trio

from presence_actors.ports import DirectoryData

from .directory_file import DirectoryImport
from .writebehind import PendingWrites, RecentRows


class StoreUnavailable(RuntimeError):
    """The database could not answer (down, too slow) or the store is closed."""


def describe(exc: BaseException) -> str:
    """`Type: message` of the error inside nested single-exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class StoreOptions:
    """Tunables; the defaults are SPEC §9's."""

    flush_interval: float = 1.0  # seconds between flushes while snapshots are pending
    flush_threshold: int = 500  # pending snapshots that trigger a flush at once
    max_batch: int = 5000  # most snapshots written by one statement
    backoff_base: float = 1.0  # first retry delay after a failed flush
    backoff_cap: float = 30.0  # longest retry delay
    close_deadline: float = 10.0  # graceful close: time allowed to flush what is pending
    operation_timeout: float = 10.0  # any one database operation
    read_timeout: float = 2.0  # a presence read: past it, answer from memory
    connect_timeout: float = 10.0  # opening the database (and closing the pool)
    health_interval: float = 5.0  # idle: ping the database this often (for ready())
    cache_size: int = 4096  # rows kept in the read cache
    pool_size: int = 4  # Postgres connections
    sqlite_busy_timeout: float = 5.0  # waiting for another process' SQLite write lock


@dataclass(frozen=True)
class StoreStatistics:
    """A snapshot of the storage actor's counters (all since the store was opened)."""

    pending: int  # snapshots waiting to be written (one per user at most)
    flushes: int  # successful batch writes
    flushed_rows: int  # snapshots written
    dropped_rows: int  # snapshots skipped: their user is not in `users`
    rejected: int  # snapshots refused by persist(): out-of-range id, no last_seen, ...
    failed_flushes: int  # batch writes or pings that failed
    consecutive_failures: int  # failures since the last success (0 when healthy)
    last_flush_seconds: float | None  # duration of the last successful batch write
    last_error: str | None  # the most recent database error, for /readyz and logs
    ready: bool
    lost_on_close: int  # snapshots unwritten at close (deadline passed, or persisted after)
    degraded_reads: int  # reads answered from memory because the database was unreachable


@dataclass
class SharedState:
    options: StoreOptions
    pending: PendingWrites = field(default_factory=PendingWrites)
    cache: RecentRows = field(default_factory=lambda: RecentRows(0))
    wake: trio.Event = field(default_factory=trio.Event)  # flush now (threshold or close)
    closing: trio.Event = field(default_factory=trio.Event)
    ready: bool = True
    closed: bool = False  # the actor has made its final flush
    flushes: int = 0
    flushed_rows: int = 0
    dropped_rows: int = 0
    rejected: int = 0
    failed_flushes: int = 0
    consecutive_failures: int = 0
    last_flush_seconds: float | None = None
    last_error: str | None = None
    lost_on_close: int = 0
    degraded_reads: int = 0
    last_directory: DirectoryData | None = None  # served while the database is unreachable

    def statistics(self) -> StoreStatistics:
        return StoreStatistics(
            pending=len(self.pending),
            flushes=self.flushes,
            flushed_rows=self.flushed_rows,
            dropped_rows=self.dropped_rows,
            rejected=self.rejected,
            failed_flushes=self.failed_flushes,
            consecutive_failures=self.consecutive_failures,
            last_flush_seconds=self.last_flush_seconds,
            last_error=self.last_error,
            ready=self.ready,
            lost_on_close=self.lost_on_close,
            degraded_reads=self.degraded_reads,
        )


# The storage actor's messages: a closed set, each with its one-shot reply channel.


@dataclass(frozen=True)
class LoadPresence:
    user_ids: Sequence[int]
    reply: trio.MemorySendChannel


@dataclass(frozen=True)
class LoadDirectory:
    reply: trio.MemorySendChannel


@dataclass(frozen=True)
class ImportDirectory:
    doc: DirectoryImport
    reply: trio.MemorySendChannel


@dataclass(frozen=True)
class Flush:
    reply: trio.MemorySendChannel


Request = LoadPresence | LoadDirectory | ImportDirectory | Flush
