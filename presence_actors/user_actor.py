"""UserActor: the thin shell around `user_rules` for one user.

On a first start it rebuilds its state: last_seen from the store and one connected device
per live session (sessions outlive an actor that was given up). After a crash it resumes
from the last state a step completed. Then it
applies the rules and carries out their effects: push to everyone who can see the user,
persist the snapshot, answer the caller, and end the user's typing when they go offline.
"""

from __future__ import annotations

from . import user_rules as rules
from .actor import CONVERSATION, USER, ActorShell
from .conversation_rules import ClearUser
from .model import PresenceStatus
from .wire import presence_update_frame


class UserActor(ActorShell):
    __slots__ = ()
    kind = USER
    rules = rules
    expire_message = rules.Expire()

    async def start(self) -> rules.UserState:
        """After a crash, resume from the last state a step completed (the message that
        crashed is dropped and its caller told); on a first start, rebuild."""
        if self.last_state is not None:
            return self.last_state
        context, user_id = self.context, self.key
        previous = context.board.get(user_id)
        if previous is None:
            stored = await context.store.load_presence([user_id])
            previous = stored.get(user_id)
        last_seen = previous.last_seen if previous else None
        announced = previous.status if previous else PresenceStatus.OFFLINE
        state = before = rules.new_user(user_id, last_seen, announced)
        now = context.clock.now()
        for outbox in context.subscribers.of(user_id):  # sessions that outlived the actor
            state = rules.connect(state, outbox.device_id, now)
        state, effects = rules.announce(before, state, [])
        self.execute(state, effects)
        return state

    def retire(self, state: rules.UserState) -> bool:
        if not super().retire(state):
            return False
        self.context.board.pop(self.key, None)
        return True

    def abandon(self) -> None:
        self.context.board.pop(self.key, None)

    def execute(self, state: rules.UserState, effects: list[rules.Effect]) -> None:
        self.last_state = state
        context = self.context
        for effect in effects:
            match effect:
                case rules.Persist(record):
                    context.board[self.key] = record
                    context.store.persist(record)
                case rules.Push(record):
                    frame = presence_update_frame(record)
                    visible = context.directory.visible(self.key)
                    delivered = context.subscribers.fan_out(visible, self.key, frame)
                    context.counters.presence_pushes += 1
                    context.counters.deliveries += delivered
                case rules.ClearTyping(user_id):
                    for conversation_id in context.typing.typing_in(user_id):
                        if self.registry.live(CONVERSATION, conversation_id) is not None:
                            self.registry.tell_reliably(
                                CONVERSATION, conversation_id, ClearUser(user_id)
                            )
                case rules.Answer():
                    effect.send()
