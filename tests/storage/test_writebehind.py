"""The write-behind buffer and read cache as plain data structures (no I/O, no clock)."""

from __future__ import annotations

from presence_actors.model import PresenceRecord, PresenceStatus
from storage.writebehind import PendingWrites, RecentRows, backoff_delay, storable

ON, AWAY, OFF = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


def rec(uid: int, status: PresenceStatus = ON, seen: float = 100.0) -> PresenceRecord:
    return PresenceRecord(uid, status, seen)


def test_latest_snapshot_per_user_wins():
    pending = PendingWrites()
    pending.put(rec(1, ON, 1))
    assert pending.put(rec(1, AWAY, 2)) == 1
    assert pending.get(1) == rec(1, AWAY, 2)


def test_take_moves_the_oldest_queued_into_flight():
    pending = PendingWrites()
    for uid in (3, 1, 2):
        pending.put(rec(uid))
    assert [r.user_id for r in pending.take(2)] == [3, 1]
    assert len(pending) == 1 and pending.in_flight
    assert pending.get(3) == rec(3)  # still readable while in flight
    assert pending.committed() == [rec(3), rec(1)]
    assert pending.get(3) is None and not pending.in_flight


def test_failed_batch_goes_back_first_without_overwriting_newer():
    pending = PendingWrites()
    pending.put(rec(1, ON, 1))
    pending.put(rec(2, ON, 1))
    pending.take(10)
    pending.put(rec(1, OFF, 5))  # newer, arrived while the batch was in flight
    pending.put(rec(3, AWAY, 5))
    pending.failed()
    assert pending.snapshot() == {1: rec(1, OFF, 5), 2: rec(2, ON, 1), 3: rec(3, AWAY, 5)}
    assert [r.user_id for r in pending.take(10)] == [1, 2, 3]


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_delay(n, 1.0, 30.0) for n in range(8)] == [0, 1, 2, 4, 8, 16, 30, 30]
    assert backoff_delay(10_000, 1.0, 30.0) == 30.0


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
