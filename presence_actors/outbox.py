"""Per-connection outboxes and the index of who is subscribed.

A change is serialized once and the same bytes are offered to every recipient's outbox.
An outbox coalesces by key (the latest presence per user, the latest typing per user and
conversation, the latest pong and error), so a slow reader costs memory bounded by what it
can see, never by how slow it is. Offering never blocks and never wakes more than the one
writer task, which then drains everything pending in one batch.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import trio


class Outbox:
    """Frames waiting for one connection, coalesced by key, in first-offer order per key."""

    __slots__ = ("_closed", "_pending", "_wakeup", "device_id", "user_id")

    def __init__(self, user_id: int, device_id: str) -> None:
        self.user_id = user_id
        self.device_id = device_id
        self._pending: dict[Hashable, bytes] = {}
        self._wakeup: trio.Event | None = None
        self._closed = False

    def offer(self, key: Hashable, frame: bytes) -> None:
        """Queue `frame`, replacing any unsent frame with the same key."""
        if self._closed:
            return
        self._pending[key] = frame
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set()

    def put(self, frame: bytes, kind: str = "reply") -> None:
        """Queue a reply frame (pong, error); replies of one kind coalesce to the latest."""
        self.offer(("reply", kind), frame)

    def __len__(self) -> int:
        return len(self._pending)

    async def next_batch(self) -> list[bytes]:
        """Wait for at least one frame, then take everything pending."""
        while not self._pending:
            if self._closed:
                raise trio.EndOfChannel
            self._wakeup = wakeup = trio.Event()
            await wakeup.wait()
        frames = list(self._pending.values())
        self._pending.clear()
        return frames

    def close(self) -> None:
        self._closed = True
        self._pending.clear()
        if self._wakeup is not None:
            self._wakeup.set()


@dataclass(frozen=True, slots=True)
class SubscriberStatistics:
    users: int
    sockets: int


class Subscribers:
    """user_id -> that user's open outboxes. Owned by the registry; actors only read it."""

    def __init__(self) -> None:
        self._by_user: dict[int, set[Outbox]] = {}
        self._count = 0

    def add(self, outbox: Outbox) -> None:
        self._by_user.setdefault(outbox.user_id, set()).add(outbox)
        self._count += 1

    def remove(self, outbox: Outbox) -> None:
        outboxes = self._by_user.get(outbox.user_id)
        if outboxes is None or outbox not in outboxes:
            return
        outboxes.discard(outbox)
        self._count -= 1
        if not outboxes:
            del self._by_user[outbox.user_id]

    def of(self, user_id: int) -> Iterable[Outbox]:
        return self._by_user.get(user_id, ())

    def count(self, user_id: int) -> int:
        return len(self._by_user.get(user_id, ()))

    def deliver(self, user_ids: frozenset[int], key: Hashable, frame: bytes) -> int:
        """Offer one frame to every outbox of these users; returns how many got it."""
        by_user = self._by_user
        delivered = 0
        # Walk the smaller side: a user may see thousands while few of them are connected.
        candidates = user_ids if len(user_ids) <= len(by_user) else list(by_user)
        for uid in candidates:
            if uid not in user_ids:
                continue
            outboxes = by_user.get(uid)
            if outboxes:
                for outbox in outboxes:
                    outbox.offer(key, frame)
                delivered += len(outboxes)
        return delivered

    def statistics(self) -> SubscriberStatistics:
        return SubscriberStatistics(len(self._by_user), self._count)
