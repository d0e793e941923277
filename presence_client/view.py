"""The observable local view: the current `ViewState`, callbacks, and event streams."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import trio

from .models import PresenceEvent, UserPresence
from .view_rules import ViewState, apply_frame, clear

log = logging.getLogger("presence_client")

Callback = Callable[[PresenceEvent], object]


class EventStream:
    """An async iterator of the view's events, from the moment it was opened."""

    def __init__(self, receive: trio.MemoryReceiveChannel[PresenceEvent]) -> None:
        self._receive = receive

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> PresenceEvent:
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise StopAsyncIteration from None


class LocalView:
    """Every visible user's presence and who types where, as the push channel reports it.

    Observe it with `on_change(callback)` (called synchronously, in order, for every
    event) or `with view.open_events() as events: async for event in events`. A stream
    buffers what its reader has not taken yet; read it promptly or use a callback.
    """

    def __init__(self) -> None:
        self.state = ViewState()
        self._callbacks: list[Callback] = []

    @property
    def presences(self) -> Mapping[int, UserPresence]:
        return self.state.presences

    def presence(self, user_id: int) -> UserPresence | None:
        return self.state.presences.get(user_id)

    def typing_in(self, conversation_id: int) -> frozenset[int]:
        """The users typing in a conversation now."""
        return frozenset(u for u, c in self.state.typing if c == conversation_id)

    def on_change(self, callback: Callback) -> Callable[[], None]:
        """Call `callback(event)` for every event from now on; returns the unsubscriber."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    @contextmanager
    def open_events(self) -> Iterator[EventStream]:
        send, receive = trio.open_memory_channel[PresenceEvent](math.inf)
        unsubscribe = self.on_change(send.send_nowait)
        try:
            yield EventStream(receive)
        finally:
            unsubscribe()
            send.close()
            receive.close()

    def apply(self, message: object) -> None:
        """Apply one server frame and publish its events. Raises: FrameError."""
        self.state, events = apply_frame(self.state, message)
        self.publish(events)

    def clear(self) -> None:
        self.state, events = clear(self.state)
        self.publish(events)

    def publish(self, events: list[PresenceEvent]) -> None:
        for event in events:
            for callback in list(self._callbacks):
                try:
                    callback(event)
                except Exception:  # an observer's bug must not stop the push channel
                    log.exception("presence view callback %r failed", callback)
