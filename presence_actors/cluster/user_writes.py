"""What a node writes when something happens to a user on it: the SPEC §5 rules as writes.

Each function takes the node's replica of the user and returns a delta: the facts to
merge into the local replica and to send to every other node. Applying a delta locally
and on other nodes is the same `merge`, so every node ends where the writer did. The
decisions (is the device live, is the status update too soon) read the replica exactly as
`user_rules` reads a single node's state, so a cluster whose deltas have all arrived
decides what one node would (tests/cluster/test_single_node_equivalence.py).
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..errors import RateLimited
from ..model import PresenceStatus
from ..timing import Timing
from .stamp import Stamp
from .user_replica import NO_NODES, DeviceFact, SocketFact, UserReplica, is_live

ONLINE, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.OFFLINE


def set_status(
    replica: UserReplica,
    node: str,
    device_id: str,
    status: PresenceStatus,
    now: float,
    timing: Timing,
    down: frozenset[str] = NO_NODES,
    admitted: bool | None = None,
) -> UserReplica:
    """An explicit status update. `offline` is never limited but opens the window.
    `admitted=True`: the cluster's limiter already admitted it (no local check).

    Raises:
        RateLimited: the device's last accepted update is less than the minimum interval
            ago (nothing is written).
    """
    fact = replica.devices.get(device_id)
    stamp = Stamp.after(fact.stamp if fact else None, now, node)
    if status is OFFLINE:
        return _device(replica, device_id, DeviceFact(stamp, OFFLINE, now, now, now), now)
    opened = fact.status_at if fact is not None and fact.status_at is not None else -math.inf
    ready_at = opened + timing.status_min_interval
    if now < ready_at and not admitted:
        raise RateLimited(max(1, math.ceil(ready_at - now)))
    written = DeviceFact(stamp, status, now, now + timing.ttl(status), now)
    return _device(replica, device_id, written, now)


def touch(
    replica: UserReplica,
    node: str,
    device_id: str,
    now: float,
    timing: Timing,
    down: frozenset[str] = NO_NODES,
) -> UserReplica:
    """Activity that is not a status update (a typing POST, a WebSocket frame) extends a
    live device; a device with no live status comes online, as a connect makes it (SPEC
    §5: typing is activity of the typing device; issue 8 item 6). Its rate window carries
    over."""
    written = _active(replica, node, device_id, now, timing, down)
    return _device(replica, device_id, written, now)


def connect(
    replica: UserReplica,
    node: str,
    device_id: str,
    now: float,
    timing: Timing,
    down: frozenset[str] = NO_NODES,
) -> UserReplica:
    """A socket opens on `node`: one more socket, and the device comes online if it had
    no live status (its rate window carries over)."""
    written = _active(replica, node, device_id, now, timing, down)
    sockets = _socket_change(replica, device_id, node, +1, now)
    return UserReplica(replica.user_id, {device_id: written}, sockets, now)


def disconnect(
    replica: UserReplica,
    node: str,
    device_id: str,
    now: float,
    timing: Timing,
    down: frozenset[str] = NO_NODES,
    vanished: bool = False,
) -> UserReplica:
    """A socket on `node` closes (activity); after the last one anywhere, the device lives
    on for the disconnect grace (online) or the away TTL (away). A socket whose peer
    `vanished` (no close: found dead up to a minute later) is no activity: the device's
    last activity and `last_seen` stay what they were; the grace still runs from now, so
    a client that reconnects at once does not flap."""
    held = replica.sockets.get((device_id, node))
    if held is None or held.count <= 0:
        return UserReplica(replica.user_id)
    sockets = _socket_change(replica, device_id, node, -1, now)
    fact = replica.devices.get(device_id)
    if fact is None or fact.status is OFFLINE:  # posted offline: its socket closing is no activity
        return UserReplica(replica.user_id, sockets=sockets)
    when = min(fact.last_activity, now) if vanished else now
    written = replace(
        fact,
        stamp=Stamp.after(fact.stamp, now, node),
        last_activity=when,
        expires_at=now + timing.after_last_socket(fact.status),
    )
    return UserReplica(replica.user_id, {device_id: written}, sockets, when)


def _device(replica: UserReplica, device_id: str, fact: DeviceFact, now: float) -> UserReplica:
    return UserReplica(replica.user_id, {device_id: fact}, last_seen=now)


def _socket_change(
    replica: UserReplica, device_id: str, node: str, change: int, now: float
) -> dict[tuple[str, str], SocketFact]:
    held = replica.sockets.get((device_id, node))
    count = held.count if held is not None else 0
    stamp = Stamp.after(held.stamp if held else None, now, node)
    return {(device_id, node): SocketFact(stamp, max(0, count + change))}


def _active(
    replica: UserReplica,
    node: str,
    device_id: str,
    now: float,
    timing: Timing,
    down: frozenset[str],
) -> DeviceFact:
    """The device's fact after activity: a live device keeps its status and lives on from
    now; one with no live status comes online. Its rate window carries over."""
    fact = replica.devices.get(device_id)
    stamp = Stamp.after(fact.stamp if fact else None, now, node)
    if fact is not None and is_live(replica, device_id, now, down):
        return replace(
            fact, stamp=stamp, last_activity=now, expires_at=now + timing.ttl(fact.status)
        )
    status_at = fact.status_at if fact is not None else None
    return DeviceFact(stamp, ONLINE, now, now + timing.ttl(ONLINE), status_at)
