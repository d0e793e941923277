"""The write-behind buffer and read cache as plain data structures (no I/O, no clock)."""

from __future__ import annotations

from presence_actors.model import PresenceRecord, PresenceStatus
from storage.flush_rules import Backlog
from storage.writebehind import PendingWrites, RecentRows, WriteBehind, storable

ON, AWAY, OFF = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


def rec(uid: int, status: PresenceStatus = ON, seen: float = 100.0) -> PresenceRecord:
    return PresenceRecord(uid, status, seen)


def test_latest_snapshot_per_user_wins():
    pending = PendingWrites()
    pending.put(rec(1, ON, 1), 0.0)
    assert pending.put(rec(1, AWAY, 2), 0.0) == 1
    assert pending.get(1) == rec(1, AWAY, 2)


def test_take_moves_the_oldest_queued_into_flight():
    pending = PendingWrites()
    for uid in (3, 1, 2):
        pending.put(rec(uid), 0.0)
    assert [r.user_id for r in pending.take(2)] == [3, 1]
    assert len(pending) == 1 and pending.in_flight
    assert pending.get(3) == rec(3)  # still readable while in flight
    assert pending.committed() == [rec(3), rec(1)]
    assert pending.get(3) is None and not pending.in_flight


def test_failed_batch_goes_back_first_without_overwriting_newer():
    pending = PendingWrites()
    pending.put(rec(1, ON, 1), 0.0)
    pending.put(rec(2, ON, 1), 0.0)
    pending.take(10)
    pending.put(rec(1, OFF, 5), 0.0)  # newer, arrived while the batch was in flight
    pending.put(rec(3, AWAY, 5), 0.0)
    pending.failed()
    assert pending.snapshot() == {1: rec(1, OFF, 5), 2: rec(2, ON, 1), 3: rec(3, AWAY, 5)}
    assert [r.user_id for r in pending.take(10)] == [1, 2, 3]


def test_only_storable_snapshots_are_accepted():
    assert storable(rec(1))
    assert storable(rec(2**31 - 1, OFF, 0.0))
    for bad in (
        rec(0),
        rec(2**31),
        rec(True),  # bool is not a user id
        PresenceRecord(1, "online", 1.0),  # a str, not a PresenceStatus
        rec(1, ON, float("inf")),
        rec(1, ON, -1.0),
        PresenceRecord(1, ON, None),
        "not a record",
    ):
        assert not storable(bad), bad


def test_cache_is_bounded_lru_and_fill_never_overwrites():
    cache = RecentRows(2)
    cache.update([rec(1), rec(2)])
    cache.get(1)
    cache.update([rec(3)])  # evicts 2, the least recently used
    assert (cache.get(1), cache.get(2), cache.get(3)) == (rec(1), None, rec(3))
    cache.fill([rec(3, OFF, 1.0)])  # an older database read must not replace a flushed row
    assert cache.get(3) == rec(3)
    disabled = RecentRows(0)
    disabled.update([rec(1)])
    assert disabled.get(1) is None


def test_a_user_keeps_the_queue_time_of_their_first_unwritten_change():
    pending = PendingWrites()
    pending.put(rec(1, ON, 1), 10.0)
    pending.put(rec(2, ON, 1), 11.0)
    pending.put(rec(1, AWAY, 2), 12.0)  # coalesced: user 1's first change still waits
    assert pending.oldest() == pending.oldest_pending() == 10.0
    pending.take(1)  # user 1 in flight
    assert (pending.oldest(), pending.oldest_pending()) == (10.0, 11.0)
    pending.put(rec(1, OFF, 3), 13.0)  # newer than the batch in flight
    pending.failed()
    assert pending.oldest() == 10.0  # the failed batch's queue time, not 13
    assert [r.user_id for r in pending.take(10)] == [1, 2]
    assert pending.committed() == [rec(1, OFF, 3), rec(2, ON, 1)]
    assert pending.oldest() is None


def test_write_behind_lag_backlog_and_refusals():
    buffer = WriteBehind(cache_size=10)
    assert (buffer.backlog(), buffer.lag(5.0)) == (Backlog(), 0.0)
    assert buffer.offer(rec(1), 100.0) == 1
    assert buffer.offer(rec(2), 100.5) == 2
    assert buffer.offer(rec(0), 101.0) == 0  # refused, counted
    assert buffer.backlog() == Backlog(2, 100.0)
    assert buffer.lag(103.0) == 3.0
    buffer.pending.take(10)
    assert buffer.backlog() == Backlog() and buffer.lag(103.0) == 3.0  # in flight still lags
    buffer.committed({1})  # 2 was not written (unknown, or a later row is stored)
    assert buffer.lookup([1, 2]) == {1: rec(1)}
    assert buffer.lag(103.0) == 0.0
    buffer.offer(rec(3), 104.0)
    assert buffer.close() == 1  # left unwritten
    assert buffer.offer(rec(4), 105.0) == 0
    assert (buffer.rejected, buffer.lost_on_close) == (1, 2)


def test_a_row_not_written_is_dropped_from_the_cache():
    buffer = WriteBehind(cache_size=10)
    buffer.cache.update([rec(1, ON, 1.0)])
    buffer.offer(rec(1, AWAY, 0.5), 0.0)  # older than what another node stored meanwhile
    buffer.pending.take(10)
    buffer.committed(set())
    assert buffer.lookup([1]) == {}  # read it again from the database
