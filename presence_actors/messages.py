"""What every actor kind shares in its message and effect vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the rules import this module and must not import trio
    from .mailbox import Refusal, ReplySlot


@dataclass(frozen=True, slots=True)
class Expire:
    """The actor's own deadline passed (fed in by its loop, never sent by others)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """Answer the request that carried `reply` (None for a message sent with `tell`).

    `value` is the answer, or the exception the caller's `ReplySlot.wait` raises."""

    reply: ReplySlot | Refusal | None
    value: Any

    def send(self) -> None:
        if self.reply is None:
            return
        if isinstance(self.value, Exception):
            self.reply.fail(self.value)
        else:
            self.reply.set(self.value)
