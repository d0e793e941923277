"""Per-connection outboxes: the frames waiting for one socket.

A change is serialized once and the same bytes are offered to every recipient's outbox.
An outbox coalesces by key (the latest presence per user, the latest typing per user and
conversation, the latest pong and error), so a slow reader costs memory bounded by what it
can see, never by how slow it is. Offering never blocks and never wakes more than the one
writer task, which then drains everything pending in one batch.
"""

from __future__ import annotations

from collections.abc import Hashable

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

    def offer_reply(self, kind: str, frame: bytes) -> None:
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
