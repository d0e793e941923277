"""The node-to-node layer: every node holds a replica of the cluster's live presence and
typing, and tells the others what happened on it through a bus (Redis in production).

Pure parts (no trio, no I/O): `Stamp`, the replicas and their writes (`user_replica`,
`user_writes`, `typing_replica`), `Facts`, `codec`, `NodeProtocol`, `owner_of`. Around
them: `ClusterNode` (one loop), `MemoryHub`/`MemoryBus`, `RedisBus`, `ClusterLimiter`.
See docs/cluster.md.
"""

from . import typing_replica, user_replica, user_writes
from .bus import BusDown, BusEvent, BusStatistics, BusUp, ClusterBus, MemoryBus, MemoryHub, Received
from .codec import ProtocolError, decode, encode
from .facts import FactBuffer, Facts, merge_facts
from .limits import ClusterLimiter, LimiterStatistics, Verdict
from .node import ClusterNode, ClusterSink, NodeStatistics, new_node_id
from .node_messages import Delta, Goodbye, Heartbeat, NodeMessage, Snapshot, TransferRequest
from .ownership import owner_of
from .protocol import NodeProtocol, Peer, PeerStatus
from .redis_bus import RedisBus
from .redis_url import RedisTarget, parse_redis_url
from .stamp import Stamp
from .table import ReplicaTable
from .typing_replica import ConversationReplica, TypingFact
from .user_replica import DeviceFact, SocketFact, UserReplica

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
