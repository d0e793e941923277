"""What the store counts: the actor's private counters and the frozen snapshot it hands out.

`web/metrics.py` exports every number of a `StoreStatistics` as `presence_storage_<field>`
(so `lag_seconds` is `presence_storage_lag_seconds`); docs/storage.md says which to alert on.
"""

from __future__ import annotations

from dataclasses import dataclass

from .backend import Upserted
from .flush_rules import FlushState, Health
from .writebehind import WriteBehind


@dataclass(frozen=True)
class StoreStatistics:
    """A snapshot of the store (counters since it was opened)."""

    pending: int  # snapshots queued, not yet taken by a flush (the batch in flight is not
    # counted: lag_seconds is 0 only once everything is written)
    lag_seconds: float  # age of the oldest change not yet in the database (0: all written)
    flushes: int  # successful batch writes
    flushed_rows: int  # snapshots written
    dropped_rows: int  # snapshots skipped: their user is not in `users`
    stale_rows: int  # snapshots skipped: the stored row has a later last_seen (another node)
    rejected: int  # snapshots refused by persist(): out-of-range id, no last_seen, ...
    failed_flushes: int  # batch writes that failed (error or deadline)
    timeouts: int  # database operations of any kind that passed their deadline
    consecutive_failures: int  # failed flushes since the last success (0 when healthy)
    last_flush_seconds: float | None  # duration of the last successful batch write
    stall_seconds: float  # how long the batch write in flight has taken so far (0: none)
    last_error: str | None  # the most recent database error, for /readyz and logs
    ready: bool
    health: Health
    lost_on_close: int  # snapshots unwritten at close (deadline passed, or persisted after)
    degraded_reads: int  # reads answered from memory because the database was unreachable


@dataclass
class Counters:
    """The storage actor's running totals (its own; only it writes them)."""

    flushes: int = 0
    flushed_rows: int = 0
    dropped_rows: int = 0
    stale_rows: int = 0
    failed_flushes: int = 0
    timeouts: int = 0
    last_flush_seconds: float | None = None
    last_error: str | None = None
    degraded_reads: int = 0

    def flushed(self, batch_size: int, done: Upserted, seconds: float) -> None:
        self.flushes += 1
        self.flushed_rows += len(done.written)
        self.dropped_rows += len(done.unknown)
        self.stale_rows += batch_size - len(done.written) - len(done.unknown)
        self.last_flush_seconds = seconds

    def snapshot(
        self,
        buffer: WriteBehind,
        state: FlushState,
        write_started: float | None,
        ready: bool,
        now: float,
    ) -> StoreStatistics:
        """The frozen statistics, with the buffer's and the policy's share."""
        return StoreStatistics(
            pending=len(buffer.pending),
            lag_seconds=buffer.lag(now),
            flushes=self.flushes,
            flushed_rows=self.flushed_rows,
            dropped_rows=self.dropped_rows,
            stale_rows=self.stale_rows,
            rejected=buffer.rejected,
            failed_flushes=self.failed_flushes,
            timeouts=self.timeouts,
            consecutive_failures=state.failures,
            last_flush_seconds=self.last_flush_seconds,
            stall_seconds=0.0 if write_started is None else now - write_started,
            last_error=self.last_error,
            ready=ready,
            health=state.health,
            lost_on_close=buffer.lost_on_close,
            degraded_reads=self.degraded_reads,
        )
