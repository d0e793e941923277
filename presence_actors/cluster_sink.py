"""The actors as the cluster's sink: what a node learns from its peers becomes messages to
the user and conversation actors concerned, and what this node itself wrote is read back
from them for a snapshot (docs/cluster.md, "Phase 2").

`ClusterNode` calls these from its own loop, in the service's trio thread; each call only
queues messages and never waits. A peer's writes start the actors they name (lazily, as
any message does: every node holds every live user); a peer's snapshot, its death or its
return reach every live actor, since any of them may hold that peer's sockets or writes
(rare events, so no index of who holds what is kept). A fresh actor starts with the
peers that are down as the context knows them.
"""

from __future__ import annotations

from . import conversation_rules, user_rules
from .actor import CONVERSATION, USER
from .cluster import Facts, typing_replica, user_replica
from .cluster.user_replica import NO_FACTS, UserReplica
from .registry import Registry


class ActorSink:
    """The registry's `presence_actors.cluster.ClusterSink`."""

    __slots__ = ("registry",)

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def apply(self, node: str, facts: Facts) -> None:
        """A peer's delta: merged by each actor it names."""
        tell = self.registry.tell_reliably
        for user_id, delta in facts.users.items():
            tell(USER, user_id, user_rules.Merge(delta))
        for conversation_id, delta in facts.conversations.items():
            tell(CONVERSATION, conversation_id, conversation_rules.Merge(delta))

    def restate(self, node: str, facts: Facts) -> None:
        """A peer's snapshot: its socket counts become exactly the restated ones, for the
        users it names and (restated empty) for every other live user."""
        registry = self.registry
        for user_id, restated in facts.users.items():
            registry.tell_reliably(USER, user_id, user_rules.Restate(node, restated))
        for user_id in registry.keys(USER) - facts.users.keys():
            empty = UserReplica(user_id)
            registry.tell_reliably(USER, user_id, user_rules.Restate(node, empty))
        for conversation_id, delta in facts.conversations.items():
            registry.tell_reliably(CONVERSATION, conversation_id, conversation_rules.Merge(delta))

    def node_down(self, node: str) -> None:
        """A peer went silent for NODE_TTL (or said goodbye): its sockets close, its writes
        keep nothing alive, on every actor."""
        context = self.registry.context
        context.down = context.down | {node}
        self._tell_all(user_rules.NodeDown(node), conversation_rules.NodeDown(node))

    def node_up(self, node: str) -> None:
        """A peer that was down speaks again (its snapshot follows)."""
        context = self.registry.context
        context.down = context.down - {node}
        self._tell_all(user_rules.NodeUp(node), conversation_rules.NodeUp(node))

    def own_facts(self) -> Facts:
        """Everything this node wrote that still stands (what its snapshot restates), read
        from the state each live actor's last step left."""
        registry, node = self.registry, self.registry.context.node
        users = {}
        for state in registry.states(USER):
            own = user_replica.own_facts(state.replica, node)
            if own.devices or own.sockets:
                users[state.user_id] = own
        conversations = {}
        for state in registry.states(CONVERSATION):
            own = typing_replica.own_facts(state.replica, node)
            if own:
                conversations[state.conversation_id] = own
        return Facts(users or NO_FACTS, conversations or NO_FACTS)

    def _tell_all(self, to_users: object, to_conversations: object) -> None:
        registry = self.registry
        for user_id in registry.keys(USER):
            registry.tell_reliably(USER, user_id, to_users)
        for conversation_id in registry.keys(CONVERSATION):
            registry.tell_reliably(CONVERSATION, conversation_id, to_conversations)
