"""The write-behind buffer and read cache: plain data structures, no I/O, no clock.

`PendingWrites` holds at most one snapshot per user waiting to be written (latest wins)
plus the batch currently being written, each with the time its user's oldest unwritten
change was queued (the storage lag). A failed batch is merged back under the newer
snapshots that arrived while it was in flight, so a retry never writes stale data over
fresh and nothing is lost. `RecentRows` is the small read cache of committed rows.
`WriteBehind` puts them together as the one thing the `Store` handle and the storage
actor share: the handle offers snapshots and reads; the actor takes batches.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Collection, Iterable

from presence_actors.model import PresenceRecord, PresenceStatus

from .flush_rules import Backlog

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


class PendingWrites:
    """Snapshots not yet committed, at most one per user, in first-queued order."""

    __slots__ = ("_inflight", "_inflight_since", "_pending", "_since")

    def __init__(self) -> None:
        self._pending: dict[int, PresenceRecord] = {}
        self._since: dict[int, float] = {}  # same keys and order as _pending
        self._inflight: dict[int, PresenceRecord] = {}
        self._inflight_since: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, record: PresenceRecord, now: float) -> int:
        """Queue a snapshot (replacing any older one for the user); the new pending count.

        A replaced snapshot keeps its place and its queue time: the user's first unwritten
        change is still waiting."""
        uid = record.user_id
        if uid not in self._pending:
            self._since[uid] = now
        self._pending[uid] = record
        return len(self._pending)

    def get(self, user_id: int) -> PresenceRecord | None:
        """The newest snapshot not yet known to be committed."""
        found = self._pending.get(user_id)
        return found if found is not None else self._inflight.get(user_id)

    @property
    def in_flight(self) -> bool:
        return bool(self._inflight)

    def oldest_pending(self) -> float | None:
        """When the oldest snapshot not yet taken was queued."""
        return self._since[next(iter(self._since))] if self._since else None

    def oldest(self) -> float | None:
        """When the oldest change not yet committed (taken or not) was queued."""
        if self._inflight_since:
            return self._inflight_since[next(iter(self._inflight_since))]
        return self.oldest_pending()

    def take(self, limit: int) -> list[PresenceRecord]:
        """Move up to `limit` of the oldest-queued snapshots into the in-flight batch."""
        assert not self._inflight, "one batch at a time"
        pending, since = self._pending, self._since
        if len(pending) <= limit:
            batch, self._pending = pending, {}
            self._inflight_since, self._since = since, {}
        else:
            keys = list(pending)[:limit]
            batch = {uid: pending.pop(uid) for uid in keys}
            self._inflight_since = {uid: since.pop(uid) for uid in keys}
        self._inflight = batch
        return list(batch.values())

    def committed(self) -> list[PresenceRecord]:
        """The in-flight batch was written: forget it and return it (for the cache)."""
        batch, self._inflight, self._inflight_since = self._inflight, {}, {}
        return list(batch.values())

    def failed(self) -> None:
        """The in-flight batch was not written: queue it again, first, under newer snapshots."""
        merged, self._inflight = self._inflight, {}
        merged.update(self._pending)  # a newer snapshot wins, the older one's slot is kept
        self._pending = merged
        since, self._inflight_since = self._inflight_since, {}
        for uid, queued in self._since.items():
            since.setdefault(uid, queued)  # the older queue time of a user in both stays
        self._since = since

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

    def forget(self, user_ids: Iterable[int]) -> None:
        """These rows may have changed under us (another writer was later): read them again."""
        for uid in user_ids:
            self._rows.pop(uid, None)

    def clear(self) -> None:
        """A directory replace may have deleted any of these rows with their users."""
        self._rows.clear()


class WriteBehind:
    """What `Store.persist` and reads touch, and what the storage actor drains.

    The handle offers snapshots and looks rows up; the actor takes batches and reports them
    committed or failed. Once closed, offered snapshots are counted as lost (nothing will
    write them any more) rather than queued.
    """

    __slots__ = ("cache", "closed", "lost_on_close", "pending", "rejected")

    def __init__(self, cache_size: int) -> None:
        self.pending = PendingWrites()
        self.cache = RecentRows(cache_size)
        self.rejected = 0  # snapshots refused: out-of-range id, no last_seen, ...
        self.lost_on_close = 0  # snapshots unwritten at close, or offered after it
        self.closed = False

    def offer(self, record: PresenceRecord, now: float) -> int:
        """Queue a snapshot; the pending count after it, 0 if it was refused or is lost."""
        if not storable(record):
            self.rejected += 1
            return 0
        if self.closed:
            self.lost_on_close += 1
            return 0
        return self.pending.put(record, now)

    def lookup(self, user_ids: Iterable[int]) -> dict[int, PresenceRecord]:
        """Pending snapshots first, then the batch in flight, then the read cache."""
        pending, cache = self.pending, self.cache
        known = {}
        for uid in user_ids:
            row = pending.get(uid) or cache.get(uid)
            if row is not None:
                known[uid] = row
        return known

    def backlog(self, awaited: bool = False) -> Backlog:
        oldest = self.pending.oldest_pending()
        if oldest is None:
            return Backlog(awaited=awaited)
        return Backlog(len(self.pending), oldest, awaited)

    def lag(self, now: float) -> float:
        """Age of the oldest change not yet in the database (0 when everything is written)."""
        oldest = self.pending.oldest()
        return 0.0 if oldest is None else max(0.0, now - oldest)

    def committed(self, written: Collection[int]) -> None:
        """The batch in flight was written, except for users not in `written`."""
        batch = self.pending.committed()
        self.cache.update(r for r in batch if r.user_id in written)
        self.cache.forget(r.user_id for r in batch if r.user_id not in written)

    def close(self) -> int:
        """Stop accepting; the number of snapshots left unwritten."""
        self.closed = True
        self.lost_on_close += len(self.pending.snapshot())
        return self.lost_on_close
