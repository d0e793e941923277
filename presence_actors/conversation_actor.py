"""ConversationActor: the thin shell around `conversation_rules` for one conversation.

After a crash it resumes from the last state a step completed. A fresh actor rebuilds its
typers, expiries included, from the typing index, so even an actor that was given up
never leaves an indicator stuck on; only its rate-limit buckets start afresh.
"""

from __future__ import annotations

from . import conversation_rules as rules
from .actor import CONVERSATION, ActorShell
from .model import TypingRecord
from .wire import typing_update_frame


class ConversationActor(ActorShell):
    __slots__ = ()
    kind = CONVERSATION
    rules = rules
    expire_message = rules.Expire()

    async def start(self) -> rules.ConversationState:
        if self.last_state is not None:  # restarted after a crash: resume
            return self.last_state
        typers = dict(self.context.typing.typers(self.key))
        return rules.ConversationState(self.key, typers, {})

    def abandon(self) -> None:
        """Given up after repeated crashes: end every indicator rather than leave it stuck."""
        for user_id in list(self.context.typing.typers(self.key)):
            self.push(TypingRecord(user_id, self.key, False))
        self.context.typing.publish(self.key, {})

    def execute(self, state: rules.ConversationState, effects: list[rules.Effect]) -> None:
        self.last_state = state
        self.context.typing.publish(self.key, state.typers)
        for effect in effects:
            match effect:
                case rules.Push(record):
                    self.push(record)
                case rules.Answer():
                    effect.send()

    def push(self, record: TypingRecord) -> None:
        context = self.context
        recipients = context.directory.participants(self.key) - {record.user_id}
        key = ("typing", record.user_id, record.conversation_id)
        delivered = context.subscribers.fan_out(recipients, key, typing_update_frame(record))
        context.counters.typing_pushes += 1
        context.counters.deliveries += delivered
