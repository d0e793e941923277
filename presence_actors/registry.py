"""Finds or lazily starts the actor for a user or a conversation, and lets idle ones go.

An actor retires itself only when its mailbox is empty, and it leaves the registry and
closes its mailbox in the same step (no checkpoint in between), so a message is never
sent into a dying actor: a sender holding the old mailbox gets `ActorGone` and looks up
again, which starts a fresh actor. A full mailbox is refused at once with
`ActorUnavailable`; a message that must not be lost (a socket's disconnect) waits for
room in a helper task instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from .actor import CONVERSATION, STOP, USER, run_actor
from .context import ActorContext
from .errors import ActorUnavailable
from .mailbox import ActorGone, Alarms, Mailbox, ReplySlot
from .supervisor import Supervisor


@dataclass(frozen=True, slots=True)
class RegistryStatistics:
    users: int
    conversations: int
    started: int
    retired: int


class Registry:
    def __init__(
        self,
        supervisor: Supervisor,
        context: ActorContext,
        behaviours: dict[str, Callable[[Registry, int, Mailbox], Any]],
    ) -> None:
        self.supervisor = supervisor
        self.context = context
        self._behaviours = behaviours
        self.alarms = Alarms()  # every actor's deadline; its `run` is a task of the runtime
        self._live: dict[str, dict[int, Any]] = {kind: {} for kind in behaviours}  # behaviours
        self.started = 0
        self.retired = 0
        self.closing = False

    # --- finding and starting ----------------------------------------------------------

    def mailbox(self, kind: str, key: int) -> Mailbox:
        """The live actor for (kind, key), started now if there is none.

        Raises:
            ActorUnavailable: the service is shutting down (no actor is started then).
        """
        live = self._live[kind]
        behaviour = live.get(key)
        if behaviour is None:
            if self.closing:
                raise ActorUnavailable("the service is shutting down")
            inbox = Mailbox(self.context.timing.mailbox_size, self.alarms)
            self.started += 1
            behaviour = live[key] = self._behaviours[kind](self, key, inbox)
            self.supervisor.spawn_self_restarting(
                f"{kind}:{key}", run_actor, behaviour, inbox, self.context.clock
            )
        return behaviour.inbox

    def live(self, kind: str, key: int) -> Mailbox | None:
        """The actor for (kind, key) if it is running; never starts one."""
        behaviour = self._live[kind].get(key)
        return behaviour.inbox if behaviour is not None else None

    def next_deadline(self) -> float | None:
        """The earliest deadline (wall time) any live actor waits for, None if none does.

        For the testing kit, which advances a `MockClock` to it; each actor's is what its
        loop last computed from the state its last step left (`ActorShell.last_state`).
        """
        deadlines = [
            deadline
            for live in self._live.values()
            for behaviour in live.values()
            if behaviour.last_state is not None
            and (deadline := behaviour.next_deadline(behaviour.last_state)) is not None
        ]
        return min(deadlines, default=None)

    def keys(self, kind: str) -> set[int]:
        """The keys of the live actors of this kind (a copy: safe to send while iterating)."""
        return set(self._live[kind])

    def states(self, kind: str) -> list:
        """The state each live actor of this kind was left in by its last step (actors that
        have not finished starting are left out). Immutable values: reading them takes
        nothing from the actors."""
        return [b.last_state for b in self._live[kind].values() if b.last_state is not None]

    def count(self, kind: str) -> int:
        return len(self._live[kind])

    # --- sending -------------------------------------------------------------------------

    def tell(self, kind: str, key: int, message: Any) -> Mailbox:
        """Deliver without waiting (an actor that just retired is replaced by a fresh one);
        the mailbox it went to, which names the incarnation of the actor that will get it.

        Raises:
            ActorUnavailable: the actor's mailbox is full (counted as `rejected_busy`), or
                the service is shutting down.
        """
        while True:
            inbox = self.mailbox(kind, key)
            try:
                inbox.tell(message)
                return inbox
            except ActorGone:
                continue
            except ActorUnavailable:
                self.context.counters.rejected_busy += 1
                raise ActorUnavailable(f"{kind} {key} is overloaded (mailbox full)") from None

    def tell_reliably(self, kind: str, key: int, message: Any) -> None:
        """Deliver even when the mailbox is full (a helper task waits for room)."""
        try:
            self.tell(kind, key, message)
        except ActorUnavailable:
            if self.live(kind, key) is not None:
                name = f"deliver:{kind}:{key}"
                self.supervisor.spawn(name, self._send, kind, key, message)

    def tell_incarnation(self, kind: str, key: int, inbox: Mailbox, message: Any) -> None:
        """Deliver to this incarnation of the actor only, even when its mailbox is full; if
        it has stopped (given up), nothing is delivered: its successor never knew of what
        the message is about (a `Disconnect` of a socket it did not count)."""
        if self.live(kind, key) is not inbox:
            return
        try:
            inbox.send_nowait(message)
        except trio.WouldBlock:
            self.supervisor.spawn(f"deliver:{kind}:{key}", _send_or_drop, inbox, message)
        except trio.BrokenResourceError:
            pass

    async def _send(self, kind: str, key: int, message: Any) -> None:
        while (inbox := self.live(kind, key)) is not None or not self.closing:
            try:
                await (inbox or self.mailbox(kind, key)).send(message)
                return
            except trio.BrokenResourceError:
                continue

    async def ask(self, kind: str, key: int, make: Callable[[ReplySlot], Any]) -> Any:
        """Send a request carrying its own reply slot; wait for the answer under a deadline.

        Raises:
            ActorUnavailable: the mailbox is full, the service is shutting down, the actor
                failed on this request, or it did not answer within `request_timeout`.
            PresenceError: whatever error the actor answered with (e.g. `RateLimited`).
        """
        reply = ReplySlot()
        self.tell(kind, key, make(reply))
        return await reply.wait(self.context.timing.request_timeout)

    # --- stopping ------------------------------------------------------------------------

    def retire(self, kind: str, key: int, inbox: Mailbox) -> bool:
        """Called by an idle actor: leave if nothing is queued. Synchronous on purpose."""
        if len(inbox):
            return False
        self._forget(kind, key, inbox)
        self.retired += 1
        return True

    def _forget(self, kind: str, key: int, inbox: Mailbox) -> None:
        live = self._live[kind]
        behaviour = live.get(key)
        if behaviour is not None and behaviour.inbox is inbox:
            del live[key]
        inbox.close()

    def give_up(self, kind: str, key: int, inbox: Mailbox) -> None:
        """A child crashed too often: fail what it had queued; the next message starts anew."""
        self._forget(kind, key, inbox)
        while True:
            try:
                message = inbox.receive_nowait()
            except trio.WouldBlock:
                break
            reply = getattr(message, "reply", None)
            if reply is not None:
                reply.fail(ActorUnavailable(f"{kind} {key} is failing"))

    async def stop_all(self, timeout: float) -> None:
        """Shutdown: every actor finishes its queue then ends; waits at most `timeout`."""
        self.closing = True
        for live in self._live.values():
            for inbox in [behaviour.inbox for behaviour in live.values()]:
                try:
                    inbox.send_nowait(STOP)
                except trio.WouldBlock:
                    self.supervisor.spawn("stop", _send_or_drop, inbox, STOP)
                except trio.BrokenResourceError:
                    pass
        with trio.move_on_after(timeout):
            await self.supervisor.wait_idle()

    def statistics(self) -> RegistryStatistics:
        return RegistryStatistics(
            self.count(USER), self.count(CONVERSATION), self.started, self.retired
        )


async def _send_or_drop(inbox: Mailbox, message: Any) -> None:
    with contextlib.suppress(trio.BrokenResourceError):
        await inbox.send(message)
