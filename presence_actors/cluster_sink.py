"""The actors as the cluster's sink: what a node learns from its peers becomes messages to
the user and conversation actors concerned, and what this node itself wrote is read back
from them for a snapshot (docs/cluster.md, "Phase 2").

`ClusterNode` calls these from its own loop, in the service's trio thread; each call only
queues messages (actors are started lazily, as for any message) and never waits.
"""

from __future__ import annotations

from .cluster import Facts
from .registry import Registry


class ActorSink:
    """The registry's `presence_actors.cluster.ClusterSink`."""

    __slots__ = ("registry",)

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def apply(self, node: str, facts: Facts) -> None:
        """A peer's delta."""

    def restate(self, node: str, facts: Facts) -> None:
        """A peer's snapshot: its socket counts become exactly the restated ones."""

    def node_down(self, node: str) -> None:
        """A peer went silent for NODE_TTL (or said goodbye)."""

    def node_up(self, node: str) -> None:
        """A peer that was down speaks again."""

    def own_facts(self) -> Facts:
        """Everything this node wrote that still stands (what its snapshot restates)."""
        return Facts()
