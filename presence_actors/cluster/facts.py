"""A batch of replicated writes: what one delta or snapshot carries between nodes.

`Facts` maps users and conversations to replica deltas. Batches merge like the replicas in
them (a join), so a node coalesces everything its actors wrote since its last publish into
one batch: a user who changed ten times in a tick costs one entry on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from . import typing_replica, user_replica
from .typing_replica import ConversationReplica
from .user_replica import NO_FACTS, UserReplica


@dataclass(frozen=True, slots=True)
class Facts:
    users: Mapping[int, UserReplica] = field(default_factory=lambda: NO_FACTS)
    conversations: Mapping[int, ConversationReplica] = field(default_factory=lambda: NO_FACTS)

    def __bool__(self) -> bool:
        return bool(self.users or self.conversations)

    def __len__(self) -> int:
        return len(self.users) + len(self.conversations)


NO_WRITES = Facts()


def merge_facts(a: Facts, b: Facts) -> Facts:
    """The join of two batches."""
    if not b:
        return a
    if not a:
        return b
    return Facts(
        _join(a.users, b.users, user_replica.merge),
        _join(a.conversations, b.conversations, typing_replica.merge),
    )


def _join(a: Mapping, b: Mapping, merge) -> Mapping:
    if not b:
        return a
    joined = dict(a)
    for key, delta in b.items():
        mine = joined.get(key)
        joined[key] = delta if mine is None else merge(mine, delta)
    return joined


class FactBuffer:
    """Writes waiting to be published, coalesced per user and conversation.

    Owned by one node and touched only from its trio thread; `take` empties it."""

    __slots__ = ("_conversations", "_users")

    def __init__(self) -> None:
        self._users: dict[int, UserReplica] = {}
        self._conversations: dict[int, ConversationReplica] = {}

    def __len__(self) -> int:
        return len(self._users) + len(self._conversations)

    def add_user(self, delta: UserReplica) -> None:
        if not delta:
            return
        mine = self._users.get(delta.user_id)
        self._users[delta.user_id] = delta if mine is None else user_replica.merge(mine, delta)

    def add_conversation(self, delta: ConversationReplica) -> None:
        if not delta:
            return
        key = delta.conversation_id
        mine = self._conversations.get(key)
        self._conversations[key] = delta if mine is None else typing_replica.merge(mine, delta)

    def add(self, facts: Facts) -> None:
        for delta in facts.users.values():
            self.add_user(delta)
        for delta in facts.conversations.values():
            self.add_conversation(delta)

    def take(self) -> Facts:
        if not self:
            return NO_WRITES
        facts = Facts(self._users or NO_FACTS, self._conversations or NO_FACTS)
        self._users, self._conversations = {}, {}
        return facts
