"""A user's presence rules (SPEC §5) as pure functions: state and a message in, new state
and effects out, `now` (wall-clock epoch seconds) passed in. No trio, no I/O.

The state is the user's `UserReplica` (docs/cluster.md): the latest write of every device
and this node's share of the open sockets, from whichever node of the cluster made them.
Everything that happens here is a write of `cluster.user_writes` (the SPEC §5 rules as
writes), merged into the replica and, in a cluster, sent to the other nodes
(`Replicate`); what peers wrote arrives as `Merge` / `Restate`. A service that joined no
cluster is a cluster of one (node `LOCAL`): it replicates nothing and keeps no write
longer than it matters.

A device lives while a node that is not down holds a socket for it; without one it lives
until its `expires_at`: last activity + TTL of its status, or, when its last socket
closed, the disconnect grace (online) or the away TTL (away). The user's status is the
highest of the live devices; a push happens exactly when that aggregate changes.
Everything else the actor changes, the board entry reads use included, leaves as an
effect.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .bucket import Bucket, take
from .cluster import user_replica, user_writes
from .cluster.user_replica import NO_NODES, UserReplica, is_live, open_sockets
from .errors import RateLimited, TooManyDevices, TooManySockets
from .messages import Answer, Expire
from .model import PresenceRecord, PresenceStatus
from .timing import Timing

if TYPE_CHECKING:  # typing only: the rules import no trio
    from .mailbox import Refusal, ReplySlot

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE
DEFAULT_TIMING = Timing()
LOCAL = "local"  # the node id of a cluster of one: nothing is replicated


# --- state -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserState:
    replica: UserReplica
    announced: PresenceStatus  # the aggregate after the last step, as pushed to watchers
    # When the last step ran: the deadline reads the replica as of then. Bookkeeping, not
    # presence: two states that differ only here are equal.
    at: float = field(default=float("-inf"), compare=False)
    node: str = LOCAL  # this node: it stamps the writes made here
    down: frozenset[str] = NO_NODES  # peers declared down: their writes keep nothing alive
    # Status updates of the user, all devices together (None: full). Per node in a cluster.
    # Not compared: a bucket refilling (and forgotten when full) is time, not presence.
    bucket: Bucket | None = field(default=None, compare=False)

    @property
    def user_id(self) -> int:
        return self.replica.user_id

    @property
    def last_seen(self) -> float | None:
        return self.replica.last_seen

    @property
    def status(self) -> PresenceStatus:
        """The aggregate as of the last step: every step announces it."""
        return self.announced

    @property
    def record(self) -> PresenceRecord:
        return PresenceRecord(self.user_id, self.announced, self.last_seen)

    @property
    def in_cluster(self) -> bool:
        return self.node != LOCAL


def new_user(
    user_id: int,
    last_seen: float | None = None,
    announced: PresenceStatus = OFFLINE,
    node: str = LOCAL,
    down: frozenset[str] = NO_NODES,
) -> UserState:
    return UserState(UserReplica(user_id, last_seen=last_seen), announced, node=node, down=down)


def live_devices(state: UserState, now: float) -> dict[str, PresenceStatus]:
    """device -> status of every device live at `now`."""
    return user_replica.live_devices(state.replica, now, state.down)


# --- messages ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetStatus:
    device_id: str
    status: PresenceStatus
    reply: ReplySlot | Refusal | None = None  # Refusal: a frame nobody waits on
    admitted: bool | None = None  # the cluster limiter's verdict; None: the local window decides


@dataclass(frozen=True, slots=True)
class Touch:
    """Activity that is not a status update: a typing POST, any WebSocket frame."""

    device_id: str


@dataclass(frozen=True, slots=True)
class Connect:
    device_id: str
    reply: ReplySlot | None = None


@dataclass(frozen=True, slots=True)
class Disconnect:
    device_id: str
    # The peer went without a close (a dead peer, found up to a minute later): its last
    # activity stays the device's last one, not the moment it was found (issue 8.20).
    vanished: bool = False


@dataclass(frozen=True, slots=True)
class Merge:
    """A peer's writes of this user (its delta)."""

    facts: UserReplica


@dataclass(frozen=True, slots=True)
class Restate:
    """A peer's snapshot for this user (possibly empty): its socket counts become these."""

    node: str
    facts: UserReplica


@dataclass(frozen=True, slots=True)
class NodeDown:
    """A peer is down: its sockets are closed, its writes keep nothing alive."""

    node: str


@dataclass(frozen=True, slots=True)
class NodeUp:
    node: str


UserMessage = (
    SetStatus | Touch | Connect | Disconnect | Merge | Restate | NodeDown | NodeUp | Expire
)


# --- effects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Push:
    """Tell everyone who can see this user: the aggregate changed."""

    record: PresenceRecord


@dataclass(frozen=True, slots=True)
class Publish:
    """Status or last_seen changed: show the record on the board, where reads find it."""

    record: PresenceRecord


@dataclass(frozen=True, slots=True)
class Withdraw:
    """The actor is gone: take the user off the board (reads fall back to the store)."""

    user_id: int


@dataclass(frozen=True, slots=True)
class Persist:
    """Status or last_seen changed: hand the snapshot to storage (in a cluster, only the
    node that owns the user does, `cluster.owner_of`)."""

    record: PresenceRecord


@dataclass(frozen=True, slots=True)
class ClearTyping:
    """The user went offline: their typing ends everywhere."""

    user_id: int


@dataclass(frozen=True, slots=True)
class Replicate:
    """Writes made on this node: send them to every other node of the cluster."""

    facts: UserReplica


Effect = Replicate | Publish | Withdraw | Persist | Push | ClearTyping | Answer


# --- rules -------------------------------------------------------------------------------


def apply(
    state: UserState, message: UserMessage, now: float, timing: Timing
) -> tuple[UserState, list[Effect]]:
    """One step: write what the message says, then derive push, persist and replicate."""
    replica, node, down = state.replica, state.node, state.down
    bucket = refill(state.bucket, now, timing)
    delta: UserReplica | None = None
    replies: list[ReplySlot | None] = []  # answered with the record after the step
    effects: list[Effect] = []
    match message:
        case SetStatus(device_id, status, reply, admitted):
            try:
                write = user_writes.set_status(
                    replica, node, device_id, status, now, timing, down, admitted
                )
                if status is not OFFLINE:  # going offline is never limited
                    admit_device(state, device_id, now, timing)
                    if timing.status_min_interval > 0:  # 0: the status limits are off
                        burst, rate = timing.user_status_burst, timing.user_status_rate
                        bucket = take(bucket, now, burst, rate)
            except RateLimited as limited:
                effects.append(Answer(reply, limited))
            else:
                delta = write
                replies.append(reply)
        case Touch(device_id):
            if is_new_device_over_cap(state, device_id, now, timing) is None:
                delta = user_writes.touch(replica, node, device_id, now, timing, down)
        case Connect(device_id, reply):
            if is_new_device_over_cap(state, device_id, now, timing) is None:
                delta = user_writes.connect(replica, node, device_id, now, timing, down)
                replies.append(reply)
            else:
                refused = TooManySockets(f"user {state.user_id} has too many devices")
                effects.append(Answer(reply, refused))
        case Disconnect(device_id, vanished):
            delta = user_writes.disconnect(replica, node, device_id, now, timing, down, vanished)
        case Merge(facts):
            replica = user_replica.merge(replica, facts)
        case Restate(peer, facts):
            replica = user_replica.restate(replica, peer, facts)
        case NodeDown(peer):
            replica, down = user_replica.forget_node(replica, peer), down | {peer}
        case NodeUp(peer):
            down = down - {peer}
        case Expire():
            pass
        case _:
            raise TypeError(f"not a user message: {message!r}")
    replicated: list[Effect] = []
    if delta:
        replica = user_replica.merge(replica, delta)
        if state.in_cluster:
            replicated.append(Replicate(delta))
    keep = None if state.in_cluster else 0.0
    replica = user_replica.prune(replica, now, timing, down, keep)
    after = replace(state, replica=replica, at=now, down=down, bucket=bucket)
    after, derived = announce(state, after, now)
    effects.extend(Answer(reply, after.record) for reply in replies)
    return after, replicated + derived + effects


def is_new_device_over_cap(
    state: UserState, device_id: str, now: float, timing: Timing
) -> int | None:
    """None when `device_id` may write: it is live already, or the user has fewer than
    `max_devices_per_user` live devices. Else the whole seconds until the first of them
    can expire (the online TTL when sockets hold them all), so device rotation cannot
    flood the user's watchers (issue 8 item 12)."""
    replica, down = state.replica, state.down
    live = user_replica.live_devices(replica, now, down)
    if device_id in live or len(live) < timing.max_devices_per_user:
        return None
    expiries = [
        replica.devices[key].expires_at
        for key in live
        if open_sockets(replica, key, down) == 0
    ]
    wait = min(expiries) - now if expiries else timing.online_ttl
    return max(1, math.ceil(wait))


def admit_device(state: UserState, device_id: str, now: float, timing: Timing) -> None:
    """Raises:
    TooManyDevices: `device_id` is a new device beyond the user's cap."""
    retry_after = is_new_device_over_cap(state, device_id, now, timing)
    if retry_after is not None:
        raise TooManyDevices(retry_after)


def refill(bucket: Bucket | None, now: float, timing: Timing) -> Bucket | None:
    """A full bucket is forgotten (None): most users never hold one."""
    burst, rate = timing.user_status_burst, timing.user_status_rate
    return None if bucket is None or bucket.full_at(burst, rate) <= now else bucket


def announce(before: UserState, state: UserState, now: float) -> tuple[UserState, list[Effect]]:
    """Derive Publish / Persist / Push / ClearTyping from what changed since `before`."""
    derived: list[Effect] = []
    status = user_replica.aggregate(state.replica, now, state.down)
    if status is not before.announced or state.last_seen != before.last_seen:
        record = PresenceRecord(state.user_id, status, state.last_seen)
        derived += [Publish(record), Persist(record)]
    if status is not state.announced:
        state = replace(state, announced=status)
        derived.append(Push(state.record))
        if status is OFFLINE:
            derived.append(ClearTyping(state.user_id))
    return state, derived


def rebuild(
    state: UserState, sockets: Iterable[str], now: float, timing: Timing
) -> tuple[UserState, list[Effect]]:
    """A fresh actor: one connected socket per session it adopts (sessions outlive an actor
    that was given up), then what changed is announced like any step."""
    replica, deltas = state.replica, UserReplica(state.user_id)
    for device_id in sockets:
        delta = user_writes.connect(replica, state.node, device_id, now, timing, state.down)
        replica = user_replica.merge(replica, delta)
        deltas = user_replica.merge(deltas, delta)
    # Published unless offline, as after any step from no device: the board is empty.
    nothing = replace(state, announced=OFFLINE)
    after, derived = announce(nothing, replace(state, replica=replica, at=now), now)
    if deltas and state.in_cluster:
        derived.insert(0, Replicate(deltas))
    return after, derived


def leave(user_id: int) -> list[Effect]:
    """An actor that stops for good withdraws its board entry (reads find it persisted)."""
    return [Withdraw(user_id)]


def next_deadline(state: UserState, timing: Timing = DEFAULT_TIMING) -> float | None:
    """The next instant the replica changes by itself, after the last step: a device
    without a socket expires, a dead device's rate window closes, or (in a cluster) a
    write stops being kept against late copies. None when nothing is pending."""
    replica, at, down = state.replica, state.at, state.down
    keep = user_replica.kept_for(timing) if state.in_cluster else 0.0
    deadlines = []
    for device_id, fact in replica.devices.items():
        if is_live(replica, device_id, at, down):
            if open_sockets(replica, device_id, down) == 0:
                deadlines.append(fact.expires_at)
            continue
        if fact.status_at is not None:
            deadlines.append(fact.status_at + timing.status_min_interval)
        deadlines.append(fact.stamp.time + keep)
    deadlines.extend(fact.stamp.time + keep for fact in replica.sockets.values() if not fact.count)
    due = [deadline for deadline in deadlines if deadline > at]
    return min(due) if due else None


def is_idle(state: UserState) -> bool:
    """Nothing live and nothing kept: the actor may stop (its record stays persisted)."""
    return user_replica.is_empty(state.replica)
