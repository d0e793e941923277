"""The write-behind buffer and read cache: plain data structures, no I/O, no clock.

`PendingWrites` holds at most one snapshot per user waiting to be written (latest wins)
plus the batch currently being written. A failed batch is merged back under the newer
snapshots that arrived while it was in flight, so a retry never writes stale data over
fresh and nothing is lost. `RecentRows` is the small read cache of committed rows.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable

from presence_actors.model import PresenceRecord, PresenceStatus

MAX_USER_ID = 2**31 - 1  # user ids are INTEGER columns
_MAX_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z, the end of datetime's range


def storable(record: object) -> bool:
    """Whether a snapshot can be written; anything else would poison every batch it joins.

    A record without `last_seen` means "never seen", which is what an absent row already
    says (and the seed's `last_seen` is NOT NULL), so it is not stored either.
    """
    if not isinstance(record, PresenceRecord):
        return False
    uid, status, seen = record.user_id, record.status, record.last_seen
    return (
        type(uid) is int
        and 0 < uid <= MAX_USER_ID
        and isinstance(status, PresenceStatus)
        and isinstance(seen, int | float)
        and math.isfinite(seen)
        and 0 <= seen <= _MAX_EPOCH
    )


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """Seconds before retry number `failures` (1-based): base, 2*base, 4*base, ... <= cap."""
    if failures <= 0:
        return 0.0
    return min(cap, base * 2.0 ** min(failures - 1, 62))


class PendingWrites:
    """Snapshots not yet committed, at most one per user, in first-queued order."""

    __slots__ = ("_inflight", "_pending")

    def __init__(self) -> None:
        self._pending: dict[int, PresenceRecord] = {}
        self._inflight: dict[int, PresenceRecord] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, record: PresenceRecord) -> int:
        """Queue a snapshot (replacing any older one for the user); the new pending count."""
        self._pending[record.user_id] = record
        return len(self._pending)

    def get(self, user_id: int) -> PresenceRecord | None:
        """The newest snapshot not yet known to be committed."""
        found = self._pending.get(user_id)
        return found if found is not None else self._inflight.get(user_id)

    @property
    def in_flight(self) -> bool:
        return bool(self._inflight)

    def take(self, limit: int) -> list[PresenceRecord]:
        """Move up to `limit` of the oldest-queued snapshots into the in-flight batch."""
        assert not self._inflight, "one batch at a time"
        pending = self._pending
        if len(pending) <= limit:
            batch, self._pending = pending, {}
        else:
            keys = list(pending)[:limit]
            batch = {uid: pending.pop(uid) for uid in keys}
        self._inflight = batch
        return list(batch.values())

    def committed(self) -> list[PresenceRecord]:
        """The in-flight batch was written: forget it and return it (for the cache)."""
        batch, self._inflight = self._inflight, {}
        return list(batch.values())

    def failed(self) -> None:
        """The in-flight batch was not written: queue it again, first, under newer snapshots."""
        merged, self._inflight = self._inflight, {}
        merged.update(self._pending)  # a newer snapshot wins, the older one's slot is kept
        self._pending = merged

    def snapshot(self) -> dict[int, PresenceRecord]:
        """Everything not yet committed (newest per user), e.g. for a lost-writes report."""
        return {**self._inflight, **self._pending}


class RecentRows:
    """A bounded LRU of rows known to be in the database (written or read by this store)."""

    __slots__ = ("_capacity", "_rows")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._rows: OrderedDict[int, PresenceRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, user_id: int) -> PresenceRecord | None:
        row = self._rows.get(user_id)
        if row is not None:
            self._rows.move_to_end(user_id)
        return row

    def update(self, rows: Iterable[PresenceRecord]) -> None:
        if self._capacity <= 0:
            return
        cached = self._rows
        for row in rows:
            cached[row.user_id] = row
            cached.move_to_end(row.user_id)
        while len(cached) > self._capacity:
            cached.popitem(last=False)

    def fill(self, rows: Iterable[PresenceRecord]) -> None:
        """Cache rows read from the database, never over a row a flush put here meanwhile."""
        cached = self._rows
        self.update(row for row in rows if row.user_id not in cached)

    def discard(self, user_ids: Iterable[int]) -> None:
        for uid in user_ids:
            self._rows.pop(uid, None)

    def clear(self) -> None:
        self._rows.clear()
