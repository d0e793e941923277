"""The node-to-node layer: every node holds a replica of the cluster's live presence and
typing, and tells the others what happened on it through a bus (Redis in production).

Pure parts (no trio, no I/O): `Stamp`, the replicas and their writes (`user_replica`,
`user_writes`, `typing_replica`), `Facts`, `codec`, `NodeProtocol`, `owner_of`. Around
them: `ClusterNode` (one loop), `MemoryHub`/`MemoryBus`, `RedisBus`, `ClusterLimiter`.
See docs/cluster.md.

The Redis parts (`RedisBus`, `ClusterLimiter` and their statistics) are imported on first
use (PEP 562): the actors are made of the replicas, and a single node, which never talks
to Redis, must not pay for importing coredis (0.76 s and 28 MB measured).
"""

from typing import TYPE_CHECKING

from . import typing_replica, user_replica, user_writes
from .bus import BusDown, BusEvent, BusStatistics, BusUp, ClusterBus, MemoryBus, MemoryHub, Received
from .codec import ProtocolError, decode, encode
from .facts import FactBuffer, Facts, merge_facts
from .node import ClusterNode, ClusterSink, NodeStatistics, new_node_id
from .node_messages import Delta, Goodbye, Heartbeat, NodeMessage, Snapshot, TransferRequest
from .ownership import cached_owner_of, owner_of
from .protocol import NodeProtocol, Peer, PeerStatus
from .redis_url import RedisTarget, parse_redis_url
from .stamp import Stamp
from .table import ReplicaTable
from .typing_replica import ConversationReplica, TypingFact
from .user_replica import DeviceFact, SocketFact, UserReplica

if TYPE_CHECKING:
    from .limits import ClusterLimiter, LimiterStatistics, Verdict
    from .redis_bus import RedisBus

_LAZY = {
    "ClusterLimiter": "limits",
    "LimiterStatistics": "limits",
    "Verdict": "limits",
    "RedisBus": "redis_bus",
}


def __getattr__(name: str):
    """Import the Redis parts when first asked for (see the module docstring).

    Raises:
        AttributeError: no such name in the package.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)

__all__ = [
    "BusDown",
    "BusEvent",
    "BusStatistics",
    "BusUp",
    "ClusterBus",
    "ClusterLimiter",
    "ClusterNode",
    "ClusterSink",
    "ConversationReplica",
    "Delta",
    "DeviceFact",
    "FactBuffer",
    "Facts",
    "Goodbye",
    "Heartbeat",
    "LimiterStatistics",
    "MemoryBus",
    "MemoryHub",
    "NodeMessage",
    "NodeProtocol",
    "NodeStatistics",
    "Peer",
    "PeerStatus",
    "ProtocolError",
    "Received",
    "RedisBus",
    "RedisTarget",
    "ReplicaTable",
    "Snapshot",
    "SocketFact",
    "Stamp",
    "TransferRequest",
    "TypingFact",
    "UserReplica",
    "Verdict",
    "cached_owner_of",
    "decode",
    "encode",
    "merge_facts",
    "new_node_id",
    "owner_of",
    "parse_redis_url",
    "typing_replica",
    "user_replica",
    "user_writes",
]
