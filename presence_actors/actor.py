"""The one actor loop every kind shares: receive under one deadline, apply, execute.

A kind supplies a `Behaviour`: how to (re)build its state, its pure rules, its deadline,
when it is idle, and how to carry out effects. The loop owns the only timer an actor
has: `trio.move_on_at(next_deadline)` around the receive; when it fires, the kind's
expiry message is fed to the rules like any other.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import trio

from .clock import WallClock
from .errors import ActorUnavailable
from .mailbox import Mailbox


class Stop:
    """Sent by the registry at shutdown: finish what is queued, then end."""


STOP = Stop()


class Behaviour(Protocol):
    expire_message: Any

    async def start(self) -> Any: ...
    def apply(self, state: Any, message: Any, now: float) -> tuple[Any, list[Any]]: ...
    def next_deadline(self, state: Any) -> float | None: ...
    def is_idle(self, state: Any) -> bool: ...
    def execute(self, state: Any, effects: list[Any]) -> None: ...
    def retire(self, state: Any) -> bool: ...
    def give_up(self, error: BaseException) -> None: ...


async def run_actor(behaviour: Behaviour, inbox: Mailbox, clock: WallClock):
    """Run one actor until it is idle and retired, or stopped. Raises on a bug (supervised)."""
    state = await behaviour.start()
    while True:
        deadline = behaviour.next_deadline(state)
        if deadline is None and behaviour.is_idle(state) and behaviour.retire(state):
            return
        message = behaviour.expire_message
        with trio.move_on_at(math.inf if deadline is None else clock.to_trio(deadline)):
            message = await inbox.receive()
        if message is STOP:
            return
        try:
            state, effects = behaviour.apply(state, message, clock.now())
            behaviour.execute(state, effects)
            del effects  # replies hold events: keep nothing alive while idle
        except Exception as exc:
            reply = getattr(message, "reply", None)
            if reply is not None:
                reply.fail(ActorUnavailable("the actor failed on this request"))
            raise exc
