"""Mailboxes and one-shot replies: how anything talks to an actor.

An actor reads one `Mailbox`, which is also its address for senders. `tell`
never waits: a full mailbox is an overloaded actor, and the caller hears so at once
(`ActorUnavailable`, a 503) instead of hanging. `ask` sends a message that carries its
own `ReplySlot` and waits for it under a deadline.

`Mailbox` is a bounded single-reader queue with the semantics of a trio memory channel
(`send_nowait` raises `WouldBlock` when full and `BrokenResourceError` once the reader
closed it; `receive` is a checkpoint and cancellable) at a tenth of its memory: an idle
actor's mailbox is one small object, which is what lets 100,000 actors fit in memory.

An actor that waits with a deadline does not open a cancel scope per wait (a scope, its
cancel status and two sets, ~0.9 KB while it waits, plus an entry in trio's deadline heap
per wait): it hands the deadline to the `Alarms` every mailbox of a runtime shares, one
trio task with one cancel scope whose deadline it moves to the earliest alarm.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
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


class Refusal:
    """The reply slot of a request its sender does not wait for (a WebSocket status
    frame): the answer is dropped, a refusal (`RateLimited`, `ActorUnavailable`) goes to
    `on_error`, once.

    It saves the sender a deadline, a cancel scope and a task switch per request: under
    F4's 5,000 status frames a second, waiting for an answer that is almost always "done"
    was about a fifth of the node's CPU (docs/benchmarks.md). A sender that must not run
    ahead (a socket reads its next frame only once its last status frame is decided, so an
    overloaded node slows its readers instead of queueing without bound) checks `decided`
    and calls `wait` only when it is not: the event is made only then."""

    __slots__ = ("_decided", "_on_error", "_waiter")

    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self._on_error: Callable[[BaseException], None] | None = on_error
        self._decided = False
        self._waiter: trio.Event | None = None

    @property
    def decided(self) -> bool:
        return self._decided

    def set(self, value: Any) -> None:
        self._settle(None)

    def fail(self, error: BaseException) -> None:
        self._settle(error)

    def _settle(self, error: BaseException | None) -> None:
        if self._decided:
            return
        self._decided = True
        on_error, self._on_error = self._on_error, None
        if self._waiter is not None:
            self._waiter.set()
        if error is not None and on_error is not None:
            on_error(error)

    async def wait(self, timeout: float) -> bool:
        """Until the actor decided, at most `timeout` seconds; whether it did."""
        if not self._decided:
            if self._waiter is None:
                self._waiter = trio.Event()
            with trio.move_on_after(timeout):
                await self._waiter.wait()
        return self._decided


class ActorGone(Exception):
    """The actor behind this mailbox has stopped; look it up again."""


_IDLE: tuple = ()  # the queue of every empty mailbox: an idle actor holds no list


class Expired:
    """What `Mailbox.receive_until` returns when its deadline came before a message."""

    __slots__ = ()


EXPIRED = Expired()


class Alarms:
    """The deadlines of every mailbox reader of one runtime, on one trio timer.

    `run` is one task: it sleeps in one long-lived cancel scope whose deadline is the
    earliest alarm, and when it wakes it hands `EXPIRED` to each reader whose alarm is
    due. An alarm is one heap entry; a reader that got a message before its deadline
    leaves it there (it is still its deadline next time it waits, most often); entries
    that no longer match their mailbox's alarm are skipped when due and pruned when they
    outnumber the mailboxes, as trio prunes its own deadline heap.
    """

    __slots__ = ("_armed", "_heap", "_order", "_scope")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Mailbox]] = []
        self._order = itertools.count()  # ties: first set, first fired; never compares mailboxes
        self._scope: trio.CancelScope | None = None
        self._armed = 0  # mailboxes whose alarm is set: the heap is pruned past twice that

    def __len__(self) -> int:
        return len(self._heap)

    def set(self, mailbox: Mailbox, deadline: float) -> None:
        """Wake `mailbox`'s reader with `EXPIRED` at trio time `deadline`."""
        if mailbox._alarm is None:
            self._armed += 1
        mailbox._alarm = deadline
        heapq.heappush(self._heap, (deadline, next(self._order), mailbox))
        if self._scope is not None and deadline < self._scope.deadline:
            self._scope.deadline = deadline
        if len(self._heap) > 2 * self._armed + 1000:
            self._heap = [entry for entry in self._heap if entry[2]._alarm == entry[0]]
            heapq.heapify(self._heap)

    def clear(self, mailbox: Mailbox) -> None:
        if mailbox._alarm is not None:
            mailbox._alarm = None
            self._armed -= 1

    async def run(self) -> None:
        """Fire alarms as they fall due, forever (cancel it to stop)."""
        while True:
            with trio.CancelScope(deadline=self._heap[0][0] if self._heap else math.inf) as scope:
                self._scope = scope
                await trio.sleep_forever()
            self._scope = None
            heap = self._heap
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                deadline, _, mailbox = heapq.heappop(heap)
                if mailbox._alarm != deadline:
                    continue  # stale: the reader has waited for another deadline since
                self.clear(mailbox)
                reader = mailbox._reader
                if reader is not None:
                    mailbox._reader = None
                    trio.lowlevel.reschedule(reader, outcome.Value(EXPIRED))


class Mailbox:
    """A bounded queue with one reader (the actor) and any number of senders.

    Senders hold the mailbox itself as the actor's address (there is no separate ref)."""

    __slots__ = ("_alarm", "_alarms", "_capacity", "_closed", "_queue", "_reader", "_space")

    def __init__(self, capacity: int, alarms: Alarms | None = None) -> None:
        self._capacity = capacity
        self._alarms = alarms  # where `receive_until` sets its deadline (shared, per runtime)
        self._alarm: float | None = None  # the deadline set in `_alarms`, until it fires
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

    async def receive_until(self, deadline: float) -> Any:
        """The next message, or `EXPIRED` once trio's clock reaches `deadline` first (a
        deadline already passed expires before any queued message, as a cancel scope
        would). Cancellable. `math.inf` waits for a message only.

        Raises:
            RuntimeError: a finite deadline on a mailbox made without `Alarms`.
        """
        if deadline > trio.current_time():
            if deadline == math.inf:
                if self._alarms is not None:
                    self._alarms.clear(self)  # an old alarm must not wake this wait
            elif self._alarm != deadline:
                if self._alarms is None:
                    raise RuntimeError("this mailbox has no alarms: it cannot wait with a deadline")
                self._alarms.set(self, deadline)
            # `receive`, inlined: one coroutine frame less for every waiting actor
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
        await trio.lowlevel.checkpoint()
        return EXPIRED

    def _abort(self, _: Any) -> trio.lowlevel.Abort:
        self._reader = None
        return trio.lowlevel.Abort.SUCCEEDED

    def close(self) -> None:
        """The reader is done: later sends fail, blocked senders are woken to fail."""
        self._closed = True
        if self._alarms is not None:
            self._alarms.clear(self)
        if self._space:
            self._space.unpark_all()
