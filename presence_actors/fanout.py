"""Fan-out: the index of who is subscribed, and offering one frame to many outboxes.

A change is serialized once and the same bytes are offered to every recipient's outbox
(see `outbox.py`). Visibility is symmetric, so the users who must hear of B's change are
exactly the users B can see; each socket's outbox is indexed by its own user.

The index also says which incarnation of the user's actor counts each socket (the
mailbox its `Connect` went to, or the fresh actor that adopted the socket when it
rebuilt its state), so that exactly one `Disconnect` reaches exactly the actor that
counted the socket, whatever happened in between (issue 8.11; see `subscriptions.py`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .outbox import Outbox

if TYPE_CHECKING:
    from .mailbox import Mailbox


@dataclass(frozen=True, slots=True)
class SubscriberStatistics:
    users: int
    sockets: int


class Subscribers:
    """user_id -> that user's open outboxes, each with the actor incarnation counting it.
    Written by subscriptions (`subscriptions.py`) and by a user actor adopting sockets when
    it starts; actors offer their changes through it."""

    def __init__(self) -> None:
        self._by_user: dict[int, dict[Outbox, Mailbox | None]] = {}
        self._count = 0

    def add(self, outbox: Outbox, counted_by: Mailbox | None = None) -> None:
        self._by_user.setdefault(outbox.user_id, {})[outbox] = counted_by
        self._count += 1

    def remove(self, outbox: Outbox) -> Mailbox | None:
        """Forget the outbox; the incarnation that counted it (None: none did)."""
        outboxes = self._by_user.get(outbox.user_id)
        if outboxes is None or outbox not in outboxes:
            return None
        counted_by = outboxes.pop(outbox)
        self._count -= 1
        if not outboxes:
            del self._by_user[outbox.user_id]
        return counted_by

    def adopt(self, user_id: int, inbox: Mailbox) -> list[str]:
        """A fresh actor (`inbox`) rebuilding its state: the devices of the user's open
        sockets it must count, now counted by it. Sockets whose `Connect` waits in its own
        mailbox are left to that message."""
        outboxes = self._by_user.get(user_id, {})
        adopted = [outbox for outbox, counted_by in outboxes.items() if counted_by is not inbox]
        for outbox in adopted:
            outboxes[outbox] = inbox
        return [outbox.device_id for outbox in adopted]

    def of(self, user_id: int) -> Iterable[Outbox]:
        return self._by_user.get(user_id, {}).keys()

    def sockets_of(self, user_id: int) -> int:
        return len(self._by_user.get(user_id, ()))

    def users(self) -> Iterable[int]:
        """Every user with an open outbox (a live view: membership tests are O(1))."""
        return self._by_user.keys()

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
