"""UserActor: the thin shell around `user_rules` for one user.

On a first start it rebuilds its state: last_seen from the store and one connected device
per live session (sessions outlive an actor that was given up). After a crash it resumes
from the last state a step completed. Then it
applies the rules and carries out their effects: push to everyone who can see the user,
persist the snapshot, answer the caller, and end the user's typing when they go offline.
"""

from __future__ import annotations

from typing import Any

from . import user_rules as rules
from .conversation_rules import ClearUser
from .mailbox import Mailbox
from .model import PresenceStatus, presence_update_frame


class UserActor:
    __slots__ = ("inbox", "last_state", "registry", "runtime", "user_id")
    expire_message = rules.Expire()

    def __init__(self, registry: Any, user_id: int, inbox: Mailbox) -> None:
        self.registry = registry
        self.runtime = registry.runtime
        self.user_id = user_id
        self.inbox = inbox
        self.last_state: rules.UserState | None = None

    async def start(self) -> rules.UserState:
        """After a crash, resume from the last state a step completed (the message that
        crashed is dropped and its caller told); on a first start, rebuild."""
        if self.last_state is not None:
            return self.last_state
        runtime = self.runtime
        previous = runtime.board.get(self.user_id)
        if previous is None:
            stored = await runtime.store.load_presence([self.user_id])
            previous = stored.get(self.user_id)
        last_seen = previous.last_seen if previous else None
        announced = previous.status if previous else PresenceStatus.OFFLINE
        state = rules.new_user(self.user_id, last_seen, announced)
        now = runtime.clock.now()
        for outbox in runtime.subscribers.of(self.user_id):  # sessions that outlived a crash
            state = rules.connect(state, outbox.device_id, now)
        state, effects = rules.announce(
            rules.new_user(self.user_id, last_seen, announced), state, []
        )
        self.execute(state, effects)
        return state

    def apply(self, state: rules.UserState, message: Any, now: float):
        return rules.apply(state, message, now, self.runtime.timing)

    def next_deadline(self, state: rules.UserState) -> float | None:
        return rules.next_deadline(state, self.runtime.timing)

    def is_idle(self, state: rules.UserState) -> bool:
        return rules.is_idle(state)

    def retire(self, state: rules.UserState) -> bool:
        if not self.registry.retire("user", self.user_id, self.inbox):
            return False
        self.runtime.board.pop(self.user_id, None)
        return True

    def give_up(self, _error: BaseException) -> None:
        """The supervisor gave up on this actor after repeated crashes."""
        self.registry.give_up("user", self.user_id, self.inbox)
        self.abandon()

    def abandon(self) -> None:
        self.runtime.board.pop(self.user_id, None)

    def execute(self, state: rules.UserState, effects: list[rules.Effect]) -> None:
        self.last_state = state
        runtime = self.runtime
        for effect in effects:
            match effect:
                case rules.Persist(record):
                    runtime.board[self.user_id] = record
                    runtime.store.persist(record)
                case rules.Push(record):
                    frame = presence_update_frame(record)
                    visible = runtime.directory.visible(self.user_id)
                    delivered = runtime.subscribers.deliver(visible, self.user_id, frame)
                    runtime.counters.presence_pushes += 1
                    runtime.counters.deliveries += delivered
                case rules.ClearTyping(user_id):
                    for conversation_id in runtime.typing.conversations_of(user_id):
                        if self.registry.live("conversation", conversation_id) is not None:
                            self.registry.tell_reliably(
                                "conversation", conversation_id, ClearUser(user_id)
                            )
                case rules.Reply(reply, value):
                    deliver_reply(reply, value)


def deliver_reply(reply: Any, value: Any) -> None:
    """Answer a request (requests sent with `tell` carry no reply slot)."""
    if reply is None:
        return
    if isinstance(value, Exception):
        reply.fail(value)
    else:
        reply.set(value)
