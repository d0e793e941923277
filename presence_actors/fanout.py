"""Fan-out: the index of who is subscribed, and offering one frame to many outboxes.

A change is serialized once and the same bytes are offered to every recipient's outbox
(see `outbox.py`). Visibility is symmetric, so the users who must hear of B's change are
exactly the users B can see; each socket's outbox is indexed by its own user.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from .outbox import Outbox


@dataclass(frozen=True, slots=True)
class SubscriberStatistics:
    users: int
    sockets: int


class Subscribers:
    """user_id -> that user's open outboxes. Written by subscriptions (`subscriptions.py`);
    actors offer their changes through it."""

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

    def sockets_of(self, user_id: int) -> int:
        return len(self._by_user.get(user_id, ()))

    def fan_out(self, user_ids: frozenset[int], key: Hashable, frame: bytes) -> int:
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
