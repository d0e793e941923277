"""Mailboxes and one-shot replies: how anything talks to an actor.

An actor reads one `Mailbox`, which is also its address for senders. `tell`
never waits: a full mailbox is an overloaded actor, and the caller hears so at once
(`ActorUnavailable`, a 503) instead of hanging. `ask` sends a message that carries its
own `ReplySlot` and waits for it under a deadline.

`Mailbox` is a bounded single-reader queue with the semantics of a trio memory channel
(`send_nowait` raises `WouldBlock` when full and `BrokenResourceError` once the reader
closed it; `receive` is a checkpoint and cancellable) at a tenth of its memory: an idle
actor's mailbox is one small object, which is what lets 100,000 actors fit in memory.
"""

from __future__ import annotations

import math
from typing import Any

import outcome
import trio

from .errors import ActorUnavailable


class ReplySlot:
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
        """The answer, once the actor set it.

        Raises:
            ActorUnavailable: no answer within `timeout` seconds.
            BaseException: the error the actor answered with (`fail`).
        """
        with trio.move_on_after(timeout):
            await self._event.wait()
        if not self._event.is_set():
            raise ActorUnavailable("the actor did not answer in time")
        if self._error is not None:
            raise self._error
        return self._value


class ActorGone(Exception):
    """The actor behind this mailbox has stopped; look it up again."""


_IDLE: tuple = ()  # the queue of every empty mailbox: an idle actor holds no list


class Mailbox:
    """A bounded queue with one reader (the actor) and any number of senders.

    Senders hold the mailbox itself as the actor's address (there is no separate ref)."""

    __slots__ = ("_capacity", "_closed", "_queue", "_reader", "_space")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._queue: list[Any] | tuple = _IDLE
        self._reader: trio.lowlevel.Task | None = None
        self._space: trio.lowlevel.ParkingLot | None = None  # blocked senders, made on demand
        self._closed = False

    def __len__(self) -> int:
        return len(self._queue)

    def tell(self, message: Any) -> None:
        """Deliver now or say why not.

        Raises:
            ActorUnavailable: the mailbox is full (the actor is overloaded).
            ActorGone: the actor has stopped; look it up again.
        """
        try:
            self.send_nowait(message)
        except trio.WouldBlock:
            raise ActorUnavailable("the actor is overloaded (mailbox full)") from None
        except trio.BrokenResourceError:
            raise ActorGone() from None

    def send_nowait(self, message: Any) -> None:
        if self._closed:
            raise trio.BrokenResourceError("the actor has stopped")
        reader = self._reader
        if reader is not None:
            self._reader = None
            trio.lowlevel.reschedule(reader, outcome.Value(message))
        elif not self._queue:
            self._queue = [message]
        elif len(self._queue) >= self._capacity:
            raise trio.WouldBlock
        else:
            self._queue.append(message)

    async def send(self, message: Any) -> None:
        """Wait for room (used only for messages that must not be lost)."""
        while True:
            try:
                self.send_nowait(message)
            except trio.WouldBlock:
                self._space = self._space or trio.lowlevel.ParkingLot()
                await self._space.park()
            else:
                await trio.lowlevel.checkpoint()
                return

    def receive_nowait(self) -> Any:
        queue = self._queue
        if not queue:
            raise trio.WouldBlock
        message = queue.pop(0)
        if not queue:
            self._queue = _IDLE
        if self._space:
            self._space.unpark()
        return message

    async def receive(self) -> Any:
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            message = self.receive_nowait()
        except trio.WouldBlock:
            pass
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return message
        self._reader = trio.lowlevel.current_task()
        return await trio.lowlevel.wait_task_rescheduled(self._abort)

    def _abort(self, _: Any) -> trio.lowlevel.Abort:
        self._reader = None
        return trio.lowlevel.Abort.SUCCEEDED

    def close(self) -> None:
        """The reader is done: later sends fail, blocked senders are woken to fail."""
        self._closed = True
        if self._space:
            self._space.unpark_all()
