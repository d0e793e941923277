"""Per-connection outboxes: the frames waiting for one socket.

A change is serialized once and the same bytes are offered to every recipient's outbox.
An outbox coalesces by key (the latest presence per user, the latest typing per user and
conversation, the latest pong and error), so a slow reader costs memory bounded by what it
can see, never by how slow it is. Offering never blocks and never wakes more than the one
writer, which then drains everything pending in one batch. The writer is either a task
waiting in `next_batch`, or a callback registered with `when_ready` (the sync core that
`next_batch` is the async shell of, as trio's `receive_nowait` is of `receive`): one
callback per socket lets a single task write to thousands of sockets without a task
switch per socket.

Keys: a user's presence is keyed by their id (`presence_key`), so `presence_removed`
replaces a pending `presence_update` of the same user; typing by (user, conversation)
(`typing_key`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import trio


def presence_key(user_id: int) -> Hashable:
    """The key of a user's `presence_update` and `presence_removed` frames."""
    return user_id


def typing_key(user_id: int, conversation_id: int) -> Hashable:
    """The key of a user's `typing_update` frames in one conversation."""
    return ("typing", user_id, conversation_id)


class Outbox:
    """Frames waiting for one connection, coalesced by key, in first-offer order per key."""

    __slots__ = ("_closed", "_pending", "_wakeup", "device_id", "user_id", "vanished")

    def __init__(self, user_id: int, device_id: str) -> None:
        self.user_id = user_id
        self.device_id = device_id
        self._pending: dict[Hashable, bytes] = {}
        self._wakeup: Callable[[], None] | None = None  # one-shot: the next offer or close
        self._closed = False
        # Set by the socket's session when the peer went without a close (a dead peer):
        # its disconnect is then no activity (SPEC §5; issue 8 item 20).
        self.vanished = False

    def offer(self, key: Hashable, frame: bytes) -> None:
        """Queue `frame`, replacing any unsent frame with the same key."""
        if self._closed:
            return
        self._pending[key] = frame
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup()

    def offer_removal(self, user_id: int, frame: bytes) -> None:
        """Queue `presence_removed` for a user (`frame`): it replaces their pending presence
        and drops their pending typing, so nothing about them follows it (SPEC §4)."""
        if self._closed:
            return
        pending = self._pending
        for key in [key for key in pending if _is_typing_of(key, user_id)]:
            del pending[key]
        self.offer(presence_key(user_id), frame)

    def offer_reply(self, kind: str, frame: bytes) -> None:
        """Queue a reply frame (pong, error); replies of one kind coalesce to the latest."""
        self.offer(("reply", kind), frame)

    def discard_pending(self) -> None:
        """Drop what is waiting, unsent: a snapshot taken now (`initial_state`) shows it."""
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._pending)

    def take_nowait(self) -> list[bytes]:
        """Everything pending, in first-offer order per key; [] when nothing is.

        Raises:
            trio.EndOfChannel: the outbox is closed (closing drops what was pending).
        """
        if not self._pending:
            if self._closed:
                raise trio.EndOfChannel
            return []
        frames = list(self._pending.values())
        self._pending.clear()
        return frames

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Call `callback` once, at the next offer or at close; at once if either happened.

        It runs inside whoever offers (an actor's fan-out), so it must be quick and must
        not raise; it replaces a callback registered earlier and not yet called.
        """
        if self._pending or self._closed:
            callback()
        else:
            self._wakeup = callback

    async def next_batch(self) -> list[bytes]:
        """Wait for at least one frame, then take everything pending.

        Raises:
            trio.EndOfChannel: the outbox is closed.
        """
        while not (frames := self.take_nowait()):
            wakeup = trio.Event()
            self.when_ready(wakeup.set)
            await wakeup.wait()
        return frames

    def close(self) -> None:
        self._closed = True
        self._pending.clear()
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup()


def _is_typing_of(key: Hashable, user_id: int) -> bool:
    return type(key) is tuple and len(key) == 3 and key[0] == "typing" and key[1] == user_id
