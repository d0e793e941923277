"""SPEC §9's write-behind timing as the pure policy sees it: plain sync tests, `now` passed in.

Every number here is the default (`StoreOptions()`): a flush one second after the oldest
snapshot or at once at 500 pending, retries 1, 2, 4, 8, 16, 30, 30 s while the database
refuses writes, a ping every second while it does not answer, 10 s to flush on close.
"""

from __future__ import annotations

from dataclasses import replace

from storage.flush_rules import (
    Backlog,
    Flush,
    FlushState,
    Health,
    Ping,
    Stop,
    WaitUntil,
    backoff_delay,
    closing,
    flush_failed,
    flushed,
    is_ready,
    next_step,
    opened,
    operation_failed,
    pinged,
)
from storage.options import StoreOptions

SPEC = StoreOptions()
T0 = 1000.0


def test_the_defaults_are_spec_9s_numbers():
    assert (SPEC.flush_interval, SPEC.flush_threshold) == (1.0, 500)
    assert (SPEC.backoff_base, SPEC.backoff_cap, SPEC.close_deadline) == (1.0, 30.0, 10.0)


def test_a_snapshot_waits_one_second_from_when_it_was_queued():
    state = opened(T0, SPEC)
    backlog = Backlog(count=1, oldest=T0 + 0.3)
    assert next_step(state, backlog, T0 + 0.3, SPEC) == WaitUntil(T0 + 1.3)
    assert next_step(state, backlog, T0 + 1.299, SPEC) == WaitUntil(T0 + 1.3)
    assert next_step(state, backlog, T0 + 1.3, SPEC) == Flush(deadline=T0 + 11.3)


def test_500_pending_flush_at_once_499_wait_for_the_interval():
    state = opened(T0, SPEC)
    assert next_step(state, Backlog(499, T0), T0 + 0.1, SPEC) == WaitUntil(T0 + 1.0)
    assert next_step(state, Backlog(500, T0), T0 + 0.1, SPEC) == Flush(T0 + 10.1)


def test_idle_store_pings_every_five_seconds_and_nothing_else():
    state = opened(T0, SPEC)
    assert next_step(state, Backlog(), T0 + 1, SPEC) == WaitUntil(T0 + 5)
    assert next_step(state, Backlog(), T0 + 5, SPEC) == Ping(deadline=T0 + 7)
    state = pinged(state, True, T0 + 5.01, SPEC)
    assert next_step(state, Backlog(), T0 + 6, SPEC) == WaitUntil(T0 + 10.01)


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_delay(n, 1.0, 30.0) for n in range(8)] == [0, 1, 2, 4, 8, 16, 30, 30]
    assert backoff_delay(10_000, 1.0, 30.0) == 30.0


def test_refused_writes_retry_after_1_2_4_8_16_30_30_seconds():
    """The database answers pings, but writes fail: the backoff governs every retry."""
    state, now, waits = opened(T0, SPEC), T0, []
    backlog = Backlog(10, T0 - 5)
    for _ in range(7):
        assert isinstance(next_step(state, backlog, now, SPEC), Flush)
        state = flush_failed(state, now, SPEC)
        assert state.health is Health.SUSPECT  # ping at once: down, or refusing?
        assert next_step(state, backlog, now, SPEC) == Ping(now + SPEC.read_timeout)
        state = pinged(state, True, now, SPEC)
        assert state.health is Health.FAILING
        step = next_step(state, backlog, now, SPEC)
        assert isinstance(step, WaitUntil)
        waits.append(step.time - now)
        now = step.time
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    state = flushed(state, now, SPEC)
    assert (state.health, state.failures) == (Health.HEALTHY, 0)


def test_the_threshold_does_not_shorten_a_backoff():
    state = replace(opened(T0, SPEC), health=Health.FAILING, failures=3, retry_at=T0 + 4)
    assert next_step(state, Backlog(5000, T0 - 60), T0 + 1, SPEC) == WaitUntil(T0 + 4)


def test_a_database_that_does_not_answer_is_pinged_every_second():
    state = flush_failed(opened(T0, SPEC), T0, SPEC)
    state = pinged(state, False, T0 + 2, SPEC)  # the ping timed out
    assert state.health is Health.DOWN
    backlog = Backlog(10, T0 - 1)
    assert next_step(state, backlog, T0 + 2, SPEC) == WaitUntil(T0 + 3)
    assert next_step(state, backlog, T0 + 3, SPEC) == Ping(T0 + 5)
    state = pinged(state, False, T0 + 3.001, SPEC)
    assert next_step(state, backlog, T0 + 3.5, SPEC) == WaitUntil(T0 + 4.001)


def test_after_an_outage_the_flush_is_retried_the_moment_a_ping_answers():
    """Not at the end of the backoff: readiness returns within seconds of the database."""
    state = replace(opened(T0, SPEC), health=Health.DOWN, failures=6, retry_at=T0 + 30)
    state = pinged(state, True, T0 + 1, SPEC)
    assert state.health is Health.FAILING
    assert next_step(state, Backlog(10, T0 - 60), T0 + 1, SPEC) == Flush(T0 + 11)
    state = flushed(state, T0 + 1.05, SPEC)
    assert is_ready(state, None, T0 + 1.05, SPEC)


def test_a_write_that_fails_again_after_a_ping_answered_backs_off():
    """Pings answer but writes keep failing: no retry every second, the backoff holds."""
    state = replace(opened(T0, SPEC), health=Health.DOWN, failures=2)
    state = pinged(state, True, T0, SPEC)
    state = flush_failed(state, T0, SPEC)  # failure 3
    state = pinged(state, True, T0, SPEC)
    assert next_step(state, Backlog(1, T0), T0, SPEC) == WaitUntil(T0 + 4)


def test_a_failed_read_leads_to_a_ping_and_only_a_failed_ping_makes_the_store_unready():
    """A read that was merely slow (a huge directory on a node running late) must not make
    a healthy node unready; one the database did not answer shows as DOWN after a ping."""
    state = operation_failed(opened(T0, SPEC), T0 + 1)
    assert state.health is Health.HEALTHY and is_ready(state, None, T0 + 1, SPEC)
    assert next_step(state, Backlog(3, T0 + 0.5), T0 + 1, SPEC) == Ping(T0 + 3)
    assert pinged(state, True, T0 + 1.1, SPEC).ping_at == T0 + 6.1  # back to every 5 s
    assert pinged(state, False, T0 + 3, SPEC).health is Health.DOWN
    down = replace(state, health=Health.DOWN)
    assert operation_failed(down, T0) == down


def test_ready_only_when_healthy_open_and_no_write_stuck_past_the_stall_timeout():
    state = opened(T0, SPEC)
    assert is_ready(state, None, T0, SPEC)
    assert is_ready(state, T0, T0 + 2.999, SPEC)
    assert not is_ready(state, T0, T0 + 3.0, SPEC)  # a blackhole shows within 3 s
    for health in (Health.SUSPECT, Health.FAILING, Health.DOWN):
        assert not is_ready(replace(state, health=health), None, T0, SPEC)
    assert not is_ready(closing(state, T0, SPEC), None, T0, SPEC)


def test_closing_flushes_at_once_whatever_the_backoff_for_at_most_ten_seconds():
    state = replace(opened(T0, SPEC), health=Health.FAILING, failures=9, retry_at=T0 + 30)
    state = closing(state, T0, SPEC)
    backlog = Backlog(3, T0 - 100)
    assert next_step(state, backlog, T0, SPEC) == Flush(deadline=T0 + 10)
    state = flush_failed(state, T0 + 0.1, SPEC)
    assert next_step(state, backlog, T0 + 0.2, SPEC) == WaitUntil(T0 + 0.6)
    assert next_step(state, backlog, T0 + 9.9, SPEC) == Flush(deadline=T0 + 10)
    assert next_step(state, backlog, T0 + 10, SPEC) == Stop()
    assert next_step(state, Backlog(), T0 + 1, SPEC) == Stop()
    assert closing(state, T0 + 5, SPEC) == state  # a second close changes nothing


def test_a_failing_store_with_nothing_left_to_write_flushes_nothing_and_is_healthy():
    state = FlushState(health=Health.FAILING, failures=2, retry_at=T0)
    assert next_step(state, Backlog(), T0, SPEC) == Flush(T0 + 10)  # an instant success
