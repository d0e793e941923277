"""When the storage actor writes, pings and waits: SPEC §9's write-behind timing as pure rules.

The actor asks `next_step(state, backlog, now, options)` what to do, does it, and reports
the outcome (`flushed`, `flush_failed`, `pinged`, `operation_failed`, `closing`), each a
function from state to state. Nothing here does I/O or reads a clock, so SPEC §9's numbers
(a flush every second or at 500 pending, retries backing off to 30 s, 10 s to flush on
close) are tested as plain functions in `tests/storage/test_flush_rules.py`.

Health separates two outages that want different retries. When a flush fails, the actor
pings at once (`SUSPECT`). If the database answers, it is up but refuses the write
(`FAILING`: a lock, a constraint, overload): retry on the backoff, 1, 2, 4 … 30 s, so a
struggling database is not hammered. If it does not answer (`DOWN`), a cheap ping every
`probe_interval` watches for its return and the flush is retried the moment one answers:
readiness comes back within about a second of the database, not at the end of a backoff.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from .options import StoreOptions

CLOSE_RETRY = 0.5  # closing: the longest wait between two attempts of the final flush


class Health(Enum):
    HEALTHY = "healthy"  # the last write or ping succeeded
    SUSPECT = "suspect"  # a write just failed: ping at once to tell the two below apart
    FAILING = "failing"  # the database answers pings but flushes fail: retry on the backoff
    DOWN = "down"  # the database does not answer: ping every probe_interval


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits to be written: how many snapshots, since when the oldest (trio time), and
    whether someone waits for it to be written (`Store.flush`)."""

    count: int = 0
    oldest: float = 0.0
    awaited: bool = False


@dataclass(frozen=True, slots=True)
class FlushState:
    health: Health = Health.HEALTHY
    failures: int = 0  # consecutive failed flushes
    retry_at: float = 0.0  # FAILING (and closing): the next flush is not tried before this
    ping_at: float = 0.0  # DOWN: the next probe; HEALTHY: the next health check
    close_by: float | None = None  # closing: the final flush's deadline


@dataclass(frozen=True, slots=True)
class Flush:
    """Write the oldest `max_flush` pending snapshots (statements of `max_batch`, one
    transaction), by `deadline`."""

    deadline: float


@dataclass(frozen=True, slots=True)
class Ping:
    """Ask the database a trivial question, by `deadline`."""

    deadline: float


@dataclass(frozen=True, slots=True)
class WaitUntil:
    """Sleep until `time`, or until woken (a snapshot arrived, the threshold was reached)."""

    time: float


@dataclass(frozen=True, slots=True)
class Stop:
    """Closing is over: everything was written, or the close deadline passed."""


Step = Flush | Ping | WaitUntil | Stop


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """Seconds before retry number `failures` (1-based): base, 2*base, 4*base, ... <= cap."""
    if failures <= 0:
        return 0.0
    return min(cap, base * 2.0 ** min(failures - 1, 62))


def opened(now: float, options: StoreOptions) -> FlushState:
    return FlushState(ping_at=now + options.health_interval)


def next_step(state: FlushState, backlog: Backlog, now: float, options: StoreOptions) -> Step:
    """The one thing to do now, or when to look again."""
    if state.close_by is not None:
        return _closing_step(state, backlog, now, options)
    if backlog.awaited and backlog.count:  # asked for: now, whatever the interval or backoff
        return Flush(now + options.operation_timeout)
    match state.health:
        case Health.SUSPECT:
            return Ping(now + options.read_timeout)
        case Health.DOWN:
            return Ping(now + options.read_timeout) if now >= state.ping_at else WaitUntil(
                state.ping_at
            )
        case Health.FAILING:
            # An empty backlog cannot fail: flushing it is an instant success.
            if now < state.retry_at:
                return WaitUntil(state.retry_at)
            return Flush(now + options.operation_timeout)
    if now >= state.ping_at:  # idle for health_interval, or a read just failed
        return Ping(now + options.read_timeout)
    if backlog.count:
        due = backlog.oldest + options.flush_interval
        if backlog.count >= options.flush_threshold or now >= due:
            return Flush(now + options.operation_timeout)
        return WaitUntil(min(due, state.ping_at))
    return WaitUntil(state.ping_at)


def _closing_step(state: FlushState, backlog: Backlog, now: float, options) -> Step:
    assert state.close_by is not None
    if not backlog.count or now >= state.close_by:
        return Stop()
    if now < state.retry_at:
        return WaitUntil(min(state.retry_at, state.close_by))
    return Flush(min(now + options.operation_timeout, state.close_by))


def closing(state: FlushState, now: float, options: StoreOptions) -> FlushState:
    """Start the final flush: at once, whatever the backoff, for at most `close_deadline`."""
    if state.close_by is not None:
        return state
    return replace(state, close_by=now + options.close_deadline, retry_at=now)


def flushed(state: FlushState, now: float, options: StoreOptions) -> FlushState:
    return replace(
        state,
        health=Health.HEALTHY,
        failures=0,
        retry_at=now,
        ping_at=now + options.health_interval,
    )


def flush_failed(state: FlushState, now: float, options: StoreOptions) -> FlushState:
    failures = state.failures + 1
    if state.close_by is not None:
        retry_at = now + min(CLOSE_RETRY, options.backoff_base)
        return replace(state, failures=failures, retry_at=retry_at)
    delay = backoff_delay(failures, options.backoff_base, options.backoff_cap)
    return replace(state, health=Health.SUSPECT, failures=failures, retry_at=now + delay)


def pinged(state: FlushState, ok: bool, now: float, options: StoreOptions) -> FlushState:
    if not ok:
        return replace(state, health=Health.DOWN, ping_at=now + options.probe_interval)
    if state.failures == 0:
        return replace(state, health=Health.HEALTHY, ping_at=now + options.health_interval)
    if state.health is Health.DOWN:  # it is back: retry now rather than at the backoff's end
        return replace(state, health=Health.FAILING, retry_at=now)
    return replace(state, health=Health.FAILING)  # it answers, yet the flush failed: back off


def operation_failed(state: FlushState, now: float) -> FlushState:
    """A read, an import or a mark-offline failed for a database reason: ping at once to
    find out whether the database is down. Readiness waits for the ping's answer: a read
    that was merely slow (a huge directory, a node running late) must not make a healthy
    node unready."""
    if state.health is Health.HEALTHY:
        return replace(state, ping_at=min(state.ping_at, now))
    return state


def is_ready(
    state: FlushState, write_started: float | None, now: float, options: StoreOptions
) -> bool:
    """Healthy, open, and no write stuck for longer than `stall_timeout` (a database that
    accepts connections but never answers shows here within seconds, not at a timeout)."""
    if state.health is not Health.HEALTHY or state.close_by is not None:
        return False
    return write_started is None or now - write_started < options.stall_timeout
