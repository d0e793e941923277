"""ConversationActor: the thin shell around `conversation_rules` for one conversation.

After a crash it resumes from the last state a step completed. A fresh actor rebuilds its
typers, expiries included, from the typing index its predecessors published to, so even
an actor that was given up never leaves an indicator stuck on (its farewell pushes every
one of them false); only its rate-limit buckets start afresh.
"""

from __future__ import annotations

from . import conversation_rules as rules
from .actor import CONVERSATION, ActorShell
from .cluster import Facts
from .model import TypingRecord
from .outbox import typing_key
from .wire import typing_update_frame


class ConversationActor(ActorShell):
    __slots__ = ()
    kind = CONVERSATION
    rules = rules
    expire_message = rules.Expire()

    async def start(self) -> rules.ConversationState:
        if self.last_state is not None:  # restarted after a crash: resume
            return self.last_state
        context = self.context
        typers = context.typing.typers(self.key)
        return rules.new_conversation(self.key, typers, context.timing, context.node, context.down)

    def farewell(self) -> list[rules.Effect]:
        return rules.leave(self.key, self.context.typing.typers(self.key))

    def perform(self, effect: rules.Effect) -> None:
        match effect:
            case rules.Publish(conversation_id, typers):
                self.context.typing.publish(conversation_id, typers)
            case rules.Push(record):
                self.push(record)
            case rules.Replicate(facts):
                self.context.replicate(Facts(conversations={facts.conversation_id: facts}))
            case rules.Answer():
                effect.send()
            case _:
                raise TypeError(f"not a conversation effect: {effect!r}")

    def push(self, record: TypingRecord) -> None:
        """Offer the change to every socket of the other participants who can see the typer
        (all of them, unless the typer has just left the conversation: those who no longer
        see them were told `presence_removed`, after which nothing about them is sent)."""
        context = self.context
        directory = context.directory
        recipients = directory.participants(self.key) - {record.user_id}
        if not directory.is_participant(record.user_id, self.key):
            recipients &= directory.visible(record.user_id)
        key = typing_key(record.user_id, record.conversation_id)
        delivered = context.subscribers.fan_out(recipients, key, typing_update_frame(record))
        context.counters.typing_pushes += 1
        context.counters.deliveries += delivered
