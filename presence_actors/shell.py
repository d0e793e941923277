"""The shell every actor kind shares: it hands the loop's calls to the kind's rules.

A kind names its rules module and its registry kind, and adds what is its own: how it
(re)builds its state and how it carries out its effects.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .mailbox import Mailbox


class ActorShell:
    __slots__ = ("inbox", "key", "last_state", "registry", "runtime")
    kind: str
    rules: ModuleType
    expire_message: Any

    def __init__(self, registry: Any, key: int, inbox: Mailbox) -> None:
        self.registry = registry
        self.runtime = registry.runtime
        self.key = key
        self.inbox = inbox
        self.last_state: Any = None  # after a crash, the loop resumes from here

    def apply(self, state: Any, message: Any, now: float) -> tuple[Any, list[Any]]:
        return self.rules.apply(state, message, now, self.runtime.timing)

    def next_deadline(self, state: Any) -> float | None:
        return self.rules.next_deadline(state, self.runtime.timing)

    def is_idle(self, state: Any) -> bool:
        return self.rules.is_idle(state)

    def retire(self, state: Any) -> bool:
        return self.registry.retire(self.kind, self.key, self.inbox)

    def give_up(self, _error: BaseException) -> None:
        """The supervisor gave up on this actor after repeated crashes."""
        self.registry.give_up(self.kind, self.key, self.inbox)
        self.abandon()

    def abandon(self) -> None:
        """Undo what this actor published, now that it is gone for good."""
