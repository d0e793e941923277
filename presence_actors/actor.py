"""The actor: one loop every kind shares, and the shell that hands it to a kind's rules.

A kind supplies a `Behaviour`: how to (re)build its state, its pure rules, its deadline,
when it is idle, and how to carry out effects. `ActorShell` is the behaviour's common
part: a kind names its rules module and its registry kind, and adds what is its own (how
it rebuilds its state, how it performs one effect, and what it does when it leaves for
good). Everything an actor changes outside its own state, the published views included,
leaves through `execute` as effects the rules returned: one exit, as phoenix's
`report_diff`. The loop owns the only timer an actor has: it receives until `next_deadline`
(`Mailbox.receive_until`, one entry in the runtime's shared `Alarms`, no cancel scope per
wait); when that passes first, the kind's expiry message is fed to the rules like any
other.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from .clock import WallClock
from .errors import ActorUnavailable
from .mailbox import EXPIRED, Mailbox

if TYPE_CHECKING:
    from .supervisor import Supervisor

USER, CONVERSATION = "user", "conversation"  # the registry's actor kinds


class Stop:
    """Sent by the registry at shutdown: finish what is queued, then end.

    It belongs to the loop, not to a kind: `run_actor` acts on it before the rules, so it
    is in no kind's closed message set and no rules module ever sees it."""

    __slots__ = ()


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


async def run_actor(
    supervisor: Supervisor, name: str, behaviour: Behaviour, inbox: Mailbox, clock: WallClock
) -> None:
    """Run one actor until it is idle and retired, or stopped.

    Supervised from inside (`Supervisor.spawn_self_restarting`: one coroutine per actor,
    not two): a step that raises (a bug) is counted by the supervisor and the actor
    resumes from its last completed step; past the supervisor's bound it gives up."""
    crashes = None  # made on the first crash: most never crash
    supervisor.started()
    try:
        while True:
            try:
                state = await behaviour.start()
                while True:
                    deadline = behaviour.next_deadline(state)
                    if deadline is None and behaviour.is_idle(state) and behaviour.retire(state):
                        return
                    message = await inbox.receive_until(
                        math.inf if deadline is None else clock.to_trio(deadline)
                    )
                    if message is EXPIRED:
                        message = behaviour.expire_message
                    elif message is STOP:
                        return
                    try:
                        state, effects = behaviour.apply(state, message, clock.now())
                        behaviour.execute(state, effects)
                        del effects, message  # replies hold events: nothing alive while idle
                    except Exception:
                        reply = getattr(message, "reply", None)
                        if reply is not None:
                            reply.fail(ActorUnavailable("the actor failed on this request"))
                        raise
            except Exception as exc:
                crashes = supervisor.crashed(name, exc, crashes)
                if crashes is None:
                    behaviour.give_up(exc)
                    return
    finally:
        supervisor.ended()


class ActorShell:
    """The part of a `Behaviour` every kind shares; a kind adds `start`, `perform` and
    `farewell`."""

    __slots__ = ("context", "inbox", "key", "last_state", "registry")
    kind: str
    rules: ModuleType
    expire_message: Any

    def __init__(self, registry: Any, key: int, inbox: Mailbox) -> None:
        self.registry = registry
        self.context = registry.context
        self.key = key
        self.inbox = inbox
        self.last_state: Any = None  # after a crash, the loop resumes from here

    def apply(self, state: Any, message: Any, now: float) -> tuple[Any, list[Any]]:
        return self.rules.apply(state, message, now, self.context.timing)

    def next_deadline(self, state: Any) -> float | None:
        return self.rules.next_deadline(state, self.context.timing)

    def is_idle(self, state: Any) -> bool:
        return self.rules.is_idle(state)

    def execute(self, state: Any, effects: list[Any]) -> None:
        """Keep the step's state (a crash resumes from it), then perform its effects."""
        self.last_state = state
        for effect in effects:
            self.perform(effect)

    def retire(self, state: Any) -> bool:
        """Leave the registry if nothing is queued; then withdraw what was published."""
        if not self.registry.retire(self.kind, self.key, self.inbox):
            return False
        self.leave()
        return True

    def give_up(self, _error: BaseException) -> None:
        """The supervisor gave up on this actor after repeated crashes."""
        self.registry.give_up(self.kind, self.key, self.inbox)
        self.leave()

    def leave(self) -> None:
        """Gone for good: perform the rules' farewell effects (undo what was published)."""
        for effect in self.farewell():
            self.perform(effect)

    def perform(self, effect: Any) -> None:
        raise NotImplementedError

    def farewell(self) -> list[Any]:
        raise NotImplementedError
