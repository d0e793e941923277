"""A node's replicas of every user and conversation, kept in plain dictionaries.

This is the cluster layer's reference sink: what `ClusterNode` learns is merged here, and
what the node's own writes are is read from here for a snapshot. Tests run whole clusters
on it; in phase 2 each actor holds its own replica and the registry routes the same four
calls to the actors concerned (docs/cluster.md, "Phase 2").
"""

from __future__ import annotations

from . import typing_replica, user_replica
from .facts import Facts
from .typing_replica import ConversationReplica
from .user_replica import UserReplica


class ReplicaTable:
    def __init__(self, node: str) -> None:
        self.node = node
        self.users: dict[int, UserReplica] = {}
        self.conversations: dict[int, ConversationReplica] = {}
        self.down: frozenset[str] = frozenset()

    def user(self, user_id: int) -> UserReplica:
        return self.users.get(user_id) or UserReplica(user_id)

    def conversation(self, conversation_id: int) -> ConversationReplica:
        return self.conversations.get(conversation_id) or ConversationReplica(conversation_id)

    # --- what ClusterNode calls ----------------------------------------------------------

    def apply(self, node: str, facts: Facts) -> None:
        """Merge a delta (a peer's, or this node's own writes)."""
        for user_id, delta in facts.users.items():
            self.users[user_id] = user_replica.merge(self.user(user_id), delta)
        for conversation_id, delta in facts.conversations.items():
            merged = typing_replica.merge(self.conversation(conversation_id), delta)
            self.conversations[conversation_id] = merged

    def restate(self, node: str, facts: Facts) -> None:
        """A peer's snapshot: its socket counts become exactly the restated ones."""
        for user_id, replica in list(self.users.items()):
            if user_id not in facts.users:
                self.users[user_id] = user_replica.restate(replica, node, UserReplica(user_id))
        for user_id, restated in facts.users.items():
            self.users[user_id] = user_replica.restate(self.user(user_id), node, restated)
        for conversation_id, delta in facts.conversations.items():
            merged = typing_replica.merge(self.conversation(conversation_id), delta)
            self.conversations[conversation_id] = merged

    def node_down(self, node: str) -> None:
        self.down = self.down | {node}
        for user_id, replica in list(self.users.items()):
            self.users[user_id] = user_replica.forget_node(replica, node)

    def node_up(self, node: str) -> None:
        self.down = self.down - {node}

    def own_facts(self) -> Facts:
        """Everything this node wrote that still stands: what its snapshot restates."""
        users = {}
        for user_id, replica in self.users.items():
            own = user_replica.own_facts(replica, self.node)
            if own.devices or own.sockets:
                users[user_id] = own
        conversations = {}
        for conversation_id, replica in self.conversations.items():
            own = typing_replica.own_facts(replica, self.node)
            if own:
                conversations[conversation_id] = own
        return Facts(users, conversations)
