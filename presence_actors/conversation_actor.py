"""ConversationActor: the thin shell around `conversation_rules` for one conversation.

After a crash it resumes from the last state a step completed. A fresh actor rebuilds its
typers, expiries included, from the typing index, so even an actor that was given up
never leaves an indicator stuck on; only its rate-limit buckets start afresh.
"""

from __future__ import annotations

from typing import Any

from . import conversation_rules as rules
from .mailbox import Mailbox
from .model import TypingRecord, typing_update_frame
from .user_actor import deliver_reply


class ConversationActor:
    __slots__ = ("conversation_id", "inbox", "last_state", "registry", "runtime")
    expire_message = rules.Expire()

    def __init__(self, registry: Any, conversation_id: int, inbox: Mailbox):
        self.registry = registry
        self.runtime = registry.runtime
        self.conversation_id = conversation_id
        self.inbox = inbox
        self.last_state: rules.ConversationState | None = None

    async def start(self) -> rules.ConversationState:
        if self.last_state is not None:  # restarted after a crash: resume
            return self.last_state
        typers = dict(self.runtime.typing.typers(self.conversation_id))
        return rules.ConversationState(self.conversation_id, typers, {})

    def apply(self, state: rules.ConversationState, message: Any, now: float):
        return rules.apply(state, message, now, self.runtime.timing)

    def next_deadline(self, state: rules.ConversationState) -> float | None:
        return rules.next_deadline(state, self.runtime.timing)

    def is_idle(self, state: rules.ConversationState) -> bool:
        return rules.is_idle(state)

    def retire(self, state: rules.ConversationState) -> bool:
        return self.registry.retire("conversation", self.conversation_id, self.inbox)

    def give_up(self, _error: BaseException) -> None:
        """The supervisor gave up on this actor after repeated crashes."""
        self.registry.give_up("conversation", self.conversation_id, self.inbox)
        self.abandon()

    def abandon(self) -> None:
        """Given up after repeated crashes: end every indicator rather than leave it stuck."""
        for user_id in list(self.runtime.typing.typers(self.conversation_id)):
            self.push(TypingRecord(user_id, self.conversation_id, False))
        self.runtime.typing.update(self.conversation_id, {})

    def execute(self, state: rules.ConversationState, effects: list[rules.Effect]) -> None:
        self.last_state = state
        self.runtime.typing.update(self.conversation_id, state.typers)
        for effect in effects:
            match effect:
                case rules.Push(record):
                    self.push(record)
                case rules.Reply(reply, value):
                    deliver_reply(reply, value)

    def push(self, record: TypingRecord) -> None:
        runtime = self.runtime
        recipients = runtime.directory.participants(self.conversation_id) - {record.user_id}
        key = ("typing", record.user_id, record.conversation_id)
        delivered = runtime.subscribers.deliver(recipients, key, typing_update_frame(record))
        runtime.counters.typing_pushes += 1
        runtime.counters.deliveries += delivered
