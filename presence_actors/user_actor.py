"""UserActor: the thin shell around `user_rules` for one user.

On a first start it rebuilds its state: last_seen from the board or the store and one
connected device per live session it adopts (sessions outlive an actor that was given
up). After a crash it resumes from the last state a step completed. Then it applies the
rules and performs their effects: publish the record on the board, persist it, push it to
everyone who can see the user, end the user's typing when they go offline, answer the
caller.
"""

from __future__ import annotations

from . import user_rules as rules
from .actor import CONVERSATION, USER, ActorShell
from .cluster import Facts
from .conversation_rules import ClearUser
from .model import PresenceRecord, PresenceStatus
from .outbox import presence_key
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
        previous = announced = context.board.get(user_id)
        if previous is None:
            stored = await context.store.load_presence([user_id])
            previous = stored.get(user_id)
            # Alone, this node wrote the stored status and may have pushed it; in a cluster
            # other nodes write it, and this node's watchers saw the user offline (reads
            # show a user not on the board offline): announcing from it would push (and
            # end typing) for a user whose writes this actor has not merged yet.
            announced = previous if context.cluster is None else None
        last_seen = previous.last_seen if previous else None
        announced = announced.status if announced else PresenceStatus.OFFLINE
        state = rules.new_user(user_id, last_seen, announced, context.node, context.down)
        # Sessions that outlived a predecessor; those whose Connect waits in this actor's
        # own mailbox are counted by that message instead (subscriptions.py).
        sockets = context.subscribers.adopt(user_id, self.inbox)
        state, effects = rules.rebuild(state, sockets, context.clock.now(), context.timing)
        self.execute(state, effects)
        return state

    def farewell(self) -> list[rules.Effect]:
        return rules.leave(self.key)

    def perform(self, effect: rules.Effect) -> None:
        context = self.context
        match effect:
            case rules.Publish(record):
                context.board[record.user_id] = record
            case rules.Withdraw(user_id):
                context.board.pop(user_id, None)
            case rules.Persist(record):
                if context.owns(record.user_id):
                    context.store.persist(record)
            case rules.Replicate(facts):
                context.replicate(Facts(users={facts.user_id: facts}))
            case rules.Push(record):
                self.push(record)
            case rules.ClearTyping(user_id):
                self.clear_typing(user_id)
            case rules.Answer():
                effect.send()
            case _:
                raise TypeError(f"not a user effect: {effect!r}")

    def push(self, record: PresenceRecord) -> None:
        """Offer the change to every socket of every user who can see this one."""
        context = self.context
        visible = context.directory.visible(self.key)
        frame = presence_update_frame(record)
        delivered = context.subscribers.fan_out(visible, presence_key(self.key), frame)
        context.counters.presence_pushes += 1
        context.counters.deliveries += delivered

    def clear_typing(self, user_id: int) -> None:
        """Tell every live conversation the user types in to stop their typing there."""
        for conversation_id in self.context.typing.typing_in(user_id):
            if self.registry.live(CONVERSATION, conversation_id) is not None:
                self.registry.tell_reliably(CONVERSATION, conversation_id, ClearUser(user_id))
