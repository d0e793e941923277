"""The storage actor's tunables; the defaults are SPEC §9's numbers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StoreOptions:
    """Every timing and size of the store; `docs/storage.md` says why each default."""

    flush_interval: float = 1.0  # no snapshot waits longer than this to be written
    flush_threshold: int = 500  # pending snapshots that trigger a flush at once
    max_batch: int = 5000  # most snapshots written by one statement
    max_flush: int = 50_000  # most snapshots one flush writes (statements of max_batch, one
    # transaction, one hand-off to the database: under load, fewer flushes drain more)
    backoff_base: float = 1.0  # first retry delay after a failed flush
    backoff_cap: float = 30.0  # longest retry delay
    close_deadline: float = 10.0  # graceful close: time allowed to flush what is pending
    operation_timeout: float = 10.0  # a write, an import, an export, a mark-offline
    read_timeout: float = 2.0  # a read (presence, directory, its version) and a ping
    connect_timeout: float = 10.0  # opening the database (and closing the pool)
    health_interval: float = 5.0  # idle: ping the database this often (for ready())
    probe_interval: float = 1.0  # database down: ping this often, flush when it answers
    stall_timeout: float = 3.0  # a write in flight this long makes the store unready
    cache_size: int = 4096  # rows kept in the read cache
    pool_size: int = 4  # Postgres connections
    sqlite_busy_timeout: float = 5.0  # waiting for another process' SQLite write lock
