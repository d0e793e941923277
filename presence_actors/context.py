"""What every actor shares: the store, the clock, the limits, and the published views.

Actors own their state; what others read lives here, each view with one writer:
- `board`: the latest record of every live user actor (user actors' `Publish`/`Withdraw`
  effects), read by `reads.py` and by a user actor rebuilding after being given up;
- `typing`: who types where (conversation actors' `Publish` effects);
- `subscribers`: each open socket's outbox by user (`subscriptions.py`), read by fan-out;
- `directory`: the current snapshot (`DirectoryCache`);
- `counters`: for `statistics()`;
- `cluster`: the node this service is in (None: a cluster of one), `node` its id and
  `down` the peers it declared down, which a fresh actor starts with.
All of it is touched only from the one trio thread, between checkpoints: no locks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .clock import WallClock
from .cluster import ClusterNode, Facts, cached_owner_of
from .cluster.user_replica import NO_NODES
from .directory import Directory
from .fanout import Subscribers
from .model import PresenceRecord
from .ports import PresenceStore
from .timing import Timing
from .typing_index import TypingIndex
from .user_rules import LOCAL


@dataclass(slots=True)
class Counters:
    presence_pushes: int = 0
    typing_pushes: int = 0
    deliveries: int = 0
    rate_limited: int = 0
    rejected_busy: int = 0


@dataclass(slots=True)
class ActorContext:
    store: PresenceStore
    clock: WallClock
    timing: Timing
    directory: Directory = field(default_factory=Directory.empty)
    subscribers: Subscribers = field(default_factory=Subscribers)
    board: dict[int, PresenceRecord] = field(default_factory=dict)
    typing: TypingIndex = field(default_factory=TypingIndex)
    counters: Counters = field(default_factory=Counters)
    cluster: ClusterNode | None = None
    node: str = LOCAL
    down: frozenset[str] = NO_NODES

    def owns(self, user_id: int) -> bool:
        """Does this node persist this user? Always in a cluster of one; in a cluster, the
        owner among the nodes it hears (`owner_of`)."""
        cluster = self.cluster
        return cluster is None or cached_owner_of(user_id, cluster.live_nodes()) == cluster.node

    def replicate(self, facts: Facts) -> None:
        """Send writes made on this node to the others (nothing in a cluster of one)."""
        if self.cluster is not None:
            self.cluster.publish(facts)
