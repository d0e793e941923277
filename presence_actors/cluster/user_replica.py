"""One user's presence as every node of the cluster holds it: a state-based CRDT.

A node keeps, for each user, the latest write of every device (`DeviceFact`, last writer
wins by `Stamp`), how many sockets each node holds open per device (`SocketFact`, written
only by the node that holds them), and `last_seen` (the latest activity anywhere: a max).
`merge` is a join (commutative, associative, idempotent), so nodes that received the same
writes, in any order and any number of times, hold the same replica.

What the user rules call a live device is derived, never stored: a device lives while a
node that is not down holds a socket for it, or until its `expires_at`; a device whose last
write came from a node that is down lives only through sockets on other nodes. Expiry
needs no message: every node reads it off the same facts with its own clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..model import PresenceStatus
from ..timing import Timing
from .stamp import Stamp

OFFLINE = PresenceStatus.OFFLINE
NO_FACTS: Mapping = MappingProxyType({})
NO_NODES: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DeviceFact:
    """The latest write of one device of one user, from whichever node made it."""

    stamp: Stamp
    status: PresenceStatus  # OFFLINE: posted offline (kept so older writes lose to it)
    last_activity: float
    expires_at: float  # when it ends unless a node that is up holds a socket for it
    status_at: float | None  # last accepted status update, offline included: its rate window


@dataclass(frozen=True, slots=True)
class SocketFact:
    """How many sockets one node holds open for one device; only that node writes it."""

    stamp: Stamp
    count: int


@dataclass(frozen=True, slots=True)
class UserReplica:
    user_id: int
    devices: Mapping[str, DeviceFact] = field(default_factory=lambda: NO_FACTS)
    # (device_id, node) -> how many sockets that node holds open for that device
    sockets: Mapping[tuple[str, str], SocketFact] = field(default_factory=lambda: NO_FACTS)
    last_seen: float | None = None

    def __bool__(self) -> bool:
        """A replica (or delta) that says anything at all."""
        return bool(self.devices or self.sockets or self.last_seen is not None)


# --- the join ----------------------------------------------------------------------------


def merge(a: UserReplica, b: UserReplica) -> UserReplica:
    """The join of two replicas (or a replica and a delta) of the same user.

    Raises:
        ValueError: the replicas are of different users.
    """
    if a.user_id != b.user_id:
        raise ValueError(f"cannot merge user {a.user_id} with user {b.user_id}")
    if b.last_seen is None and not b.devices and not b.sockets:
        return a
    return UserReplica(
        a.user_id,
        join_registers(a.devices, b.devices),
        join_registers(a.sockets, b.sockets),
        latest(a.last_seen, b.last_seen),
    )


def join_registers(a: Mapping, b: Mapping) -> Mapping:
    """Key by key, the later write wins (by stamp; equal stamps by content, so any order
    of merging picks the same one)."""
    if not b:
        return a
    if not a:
        return b
    joined = dict(a)
    for key, fact in b.items():
        mine = joined.get(key)
        if mine is None or later(fact, mine):
            joined[key] = fact
    return joined


def later(x, y) -> bool:
    """Is write `x` later than write `y`? A total order over facts."""
    if x.stamp != y.stamp:
        return x.stamp > y.stamp
    return repr(x) > repr(y)  # one stamp, two contents: cannot happen; stay deterministic


def latest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


# --- what the rules see ------------------------------------------------------------------


def open_sockets(replica: UserReplica, device_id: str, down: frozenset[str] = NO_NODES) -> int:
    """Sockets open for this device on nodes that are not down."""
    return sum(
        fact.count
        for (device, node), fact in replica.sockets.items()
        if device == device_id and node not in down
    )


def is_live(
    replica: UserReplica, device_id: str, now: float, down: frozenset[str] = NO_NODES
) -> bool:
    fact = replica.devices.get(device_id)
    if fact is None or fact.status is OFFLINE:
        return False
    if open_sockets(replica, device_id, down) > 0:
        return True
    return fact.stamp.node not in down and fact.expires_at > now


def live_devices(
    replica: UserReplica, now: float, down: frozenset[str] = NO_NODES
) -> dict[str, PresenceStatus]:
    """device -> status of every live device."""
    return {
        device_id: fact.status
        for device_id, fact in replica.devices.items()
        if is_live(replica, device_id, now, down)
    }


def aggregate(replica: UserReplica, now: float, down: frozenset[str] = NO_NODES) -> PresenceStatus:
    """The highest status of the live devices; none means offline (SPEC §5)."""
    best = OFFLINE
    for status in live_devices(replica, now, down).values():
        if status.rank > best.rank:
            best = status
    return best


def next_deadline(
    replica: UserReplica, now: float, timing: Timing, down: frozenset[str] = NO_NODES
) -> float | None:
    """The next instant the view changes by itself: a device expires or a rate window
    closes. None when nothing is pending."""
    deadlines = []
    for device_id, fact in replica.devices.items():
        if is_live(replica, device_id, now, down) and open_sockets(replica, device_id, down) == 0:
            deadlines.append(fact.expires_at)
        if fact.status_at is not None and fact.status_at + timing.status_min_interval > now:
            deadlines.append(fact.status_at + timing.status_min_interval)
    return min(deadlines) if deadlines else None


# --- forgetting --------------------------------------------------------------------------


def forget_node(replica: UserReplica, node: str) -> UserReplica:
    """A node is down: the sockets it held are closed. Its device writes stay (they still
    win over older writes) but no longer keep a device alive (see `is_live`)."""
    sockets = {key: fact for key, fact in replica.sockets.items() if key[1] != node}
    if len(sockets) == len(replica.sockets):
        return replica
    return UserReplica(replica.user_id, replica.devices, sockets or NO_FACTS, replica.last_seen)


def restate(replica: UserReplica, node: str, restated: UserReplica) -> UserReplica:
    """Apply a node's snapshot (its own writes, for this user): merge its device writes,
    and make its socket counts exactly the restated ones. A snapshot lists only open
    sockets, so a count that dropped to zero in a delta this node missed is closed here."""
    kept = {key: fact for key, fact in replica.sockets.items() if key[1] != node}
    kept.update((key, fact) for key, fact in restated.sockets.items() if key[1] == node)
    base = UserReplica(replica.user_id, replica.devices, kept or NO_FACTS, replica.last_seen)
    writes = UserReplica(restated.user_id, restated.devices, NO_FACTS, restated.last_seen)
    return merge(base, writes)


def prune(
    replica: UserReplica,
    now: float,
    timing: Timing,
    down: frozenset[str] = NO_NODES,
    keep: float | None = None,
) -> UserReplica:
    """Drop facts that can no longer change what any node sees.

    A dead device's write is kept while a socket is open for it (a posted-offline device
    with an open socket must stay offline), while its rate window is open, and for `keep`
    seconds after it was written (default `kept_for(timing)`: until every write it replaced
    has surely expired), so a late copy of an older write cannot bring the device back. A
    cluster of one receives no late copies: it passes `keep=0`.
    """
    horizon = now - (kept_for(timing) if keep is None else keep)
    held = {device for (device, _), fact in replica.sockets.items() if fact.count > 0}
    devices = {
        device_id: fact
        for device_id, fact in replica.devices.items()
        if device_id in held
        or is_live(replica, device_id, now, down)
        or fact.stamp.time > horizon
        or (fact.status_at is not None and fact.status_at + timing.status_min_interval > now)
    }
    sockets = {
        key: fact
        for key, fact in replica.sockets.items()
        if fact.count > 0 or fact.stamp.time > horizon
    }
    if len(devices) == len(replica.devices) and len(sockets) == len(replica.sockets):
        return replica
    return UserReplica(replica.user_id, devices or NO_FACTS, sockets or NO_FACTS, replica.last_seen)


def kept_for(timing: Timing) -> float:
    """How long a write that no longer keeps anything alive is kept against late copies."""
    return max(timing.online_ttl, timing.away_ttl, timing.status_min_interval)


def own_facts(replica: UserReplica, node: str) -> UserReplica:
    """What `node` itself wrote and still stands: what it restates in a snapshot."""
    devices = {k: f for k, f in replica.devices.items() if f.stamp.node == node}
    sockets = {k: f for k, f in replica.sockets.items() if k[1] == node and f.count > 0}
    return UserReplica(replica.user_id, devices or NO_FACTS, sockets or NO_FACTS, replica.last_seen)


def is_empty(replica: UserReplica) -> bool:
    return not replica.devices and not replica.sockets
