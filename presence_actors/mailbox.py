"""Mailboxes and one-shot replies: how anything talks to an actor.

An actor reads one trio memory channel; an `ActorRef` holds the sending side. `tell`
never waits: a full mailbox is an overloaded actor, and the caller hears so at once
(`ActorUnavailable`, a 503) instead of hanging. `ask` sends a message that carries its
own `Reply` and waits for it under a deadline.
"""

from __future__ import annotations

import math
from typing import Any

import trio

from .errors import ActorUnavailable


class Reply:
    """A one-shot answer slot: set once by the actor, awaited once by the caller."""

    __slots__ = ("_error", "_event", "_value")

    def __init__(self) -> None:
        self._event = trio.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def set(self, value: Any) -> None:
        if not self._event.is_set():
            self._value = value
            self._event.set()

    def fail(self, error: BaseException) -> None:
        if not self._event.is_set():
            self._error = error
            self._event.set()

    async def wait(self, timeout: float = math.inf) -> Any:
        with trio.move_on_after(timeout):
            await self._event.wait()
        if not self._event.is_set():
            raise ActorUnavailable("the actor did not answer in time")
        if self._error is not None:
            raise self._error
        return self._value


class ActorGone(Exception):
    """The actor behind this ref has stopped; look it up again."""


class ActorRef:
    """The sending side of one actor's mailbox."""

    __slots__ = ("key", "send")

    def __init__(self, key: Any, send: trio.MemorySendChannel) -> None:
        self.key = key
        self.send = send

    def tell(self, message: Any) -> None:
        try:
            self.send.send_nowait(message)
        except trio.WouldBlock:
            raise ActorUnavailable(f"actor {self.key} is overloaded (mailbox full)") from None
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ActorGone(self.key) from None


def open_mailbox(key: Any, size: int) -> tuple[ActorRef, trio.MemoryReceiveChannel]:
    send, receive = trio.open_memory_channel(size)
    return ActorRef(key, send), receive
