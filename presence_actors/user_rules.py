"""A user's presence rules (SPEC §5) as pure functions: state and a message in, new state
and effects out, `now` (wall-clock epoch seconds) passed in. No trio, no I/O.

A device lives while it has an open socket; without one it lives until its
`expires_at`: last activity + TTL of its status, or, when its last socket closed, the
disconnect grace (online) or the away TTL (away). The user's status is the highest of
the live devices; a push happens exactly when that aggregate changes. Everything else the
actor changes, the board entry reads use included, leaves as an effect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from .errors import RateLimited
from .messages import Answer, Expire
from .model import PresenceRecord, PresenceStatus
from .timing import Timing

if TYPE_CHECKING:  # typing only: the rules import no trio
    from .mailbox import ReplySlot

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE
DEFAULT_TIMING = Timing()
NONE: Mapping = MappingProxyType({})  # the one shared empty mapping: most users have no windows


# --- state -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Device:
    status: PresenceStatus  # online or away; an offline device is simply absent
    last_activity: float
    expires_at: float | None  # None while the device has an open socket
    status_at: float | None = None  # last accepted status update, for the rate limit


@dataclass(frozen=True, slots=True)
class UserState:
    user_id: int
    devices: Mapping[str, Device]
    sockets: Mapping[str, int]  # open sockets per device key (a device may post offline)
    last_seen: float | None
    announced: PresenceStatus  # the aggregate last pushed to watchers
    # Devices gone (posted offline, or expired) whose rate window is still open, and when it
    # opened: an offline post opens one too (online/offline cannot flood); expiry keeps it.
    offline_at: Mapping[str, float] = field(default_factory=lambda: NONE)

    @property
    def status(self) -> PresenceStatus:
        """The aggregate: the highest status of the live devices; none means offline."""
        best = OFFLINE
        for device in self.devices.values():
            if device.status.rank > best.rank:
                best = device.status
        return best

    @property
    def record(self) -> PresenceRecord:
        return PresenceRecord(self.user_id, self.status, self.last_seen)


def new_user(
    user_id: int, last_seen: float | None = None, announced: PresenceStatus = OFFLINE
) -> UserState:
    return UserState(user_id, NONE, NONE, last_seen, announced)


# --- messages ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetStatus:
    device_id: str
    status: PresenceStatus
    reply: ReplySlot | None = None


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


UserMessage = SetStatus | Touch | Connect | Disconnect | Expire


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
    """Status or last_seen changed: hand the snapshot to storage."""

    record: PresenceRecord


@dataclass(frozen=True, slots=True)
class ClearTyping:
    """The user went offline: their typing ends everywhere."""

    user_id: int


Effect = Publish | Withdraw | Persist | Push | ClearTyping | Answer


# --- rules -------------------------------------------------------------------------------


def apply(
    state: UserState, message: UserMessage, now: float, timing: Timing
) -> tuple[UserState, list[Effect]]:
    """One step: expire what is due, handle the message, then derive push and persist."""
    before = state
    state = expire(state, now, timing)
    effects: list[Effect] = []
    match message:
        case SetStatus(device_id, status, reply):
            try:
                state = set_status(state, device_id, status, now, timing)
            except RateLimited as limited:
                effects.append(Answer(reply, limited))
            else:
                effects.append(Answer(reply, state.record))
        case Touch(device_id):
            state = touch(state, device_id, now, timing)
        case Connect(device_id, reply):
            state = connect(state, device_id, now)
            effects.append(Answer(reply, state.record))
        case Disconnect(device_id):
            state = disconnect(state, device_id, now, timing)
        case Expire():
            pass
        case _:
            raise TypeError(f"not a user message: {message!r}")
    return announce(before, state, effects)


def announce(
    before: UserState, state: UserState, effects: list[Effect]
) -> tuple[UserState, list[Effect]]:
    """Derive Publish / Persist / Push / ClearTyping from what changed; replies go last."""
    derived: list[Effect] = []
    status = state.status
    if status is not before.status or state.last_seen != before.last_seen:
        record = state.record
        derived += [Publish(record), Persist(record)]
    if status is not state.announced:
        derived.append(Push(state.record))
        if status is OFFLINE:
            derived.append(ClearTyping(state.user_id))
        state = replace(state, announced=status)
    return state, derived + effects


def leave(user_id: int) -> list[Effect]:
    """An actor that stops for good withdraws its board entry (reads find it persisted)."""
    return [Withdraw(user_id)]


def expire(state: UserState, now: float, timing: Timing = DEFAULT_TIMING) -> UserState:
    """Drop devices whose lifetime has run out. Expiry does not move last_seen."""
    interval = timing.status_min_interval
    expired = [
        k for k, d in state.devices.items() if d.expires_at is not None and d.expires_at <= now
    ]
    if not expired and all(at + interval > now for at in state.offline_at.values()):
        return state  # the common step: nothing is due, nothing is copied
    live = {k: d for k, d in state.devices.items() if k not in expired}
    windows = dict(state.offline_at)
    for key in expired:  # an expired device keeps its open window
        status_at = state.devices[key].status_at
        if status_at is not None:
            windows[key] = max(windows.get(key, -math.inf), status_at)
    windows = {k: at for k, at in windows.items() if at + interval > now} or NONE
    return replace(state, devices=live or NONE, offline_at=windows)


def set_status(
    state: UserState, device_id: str, status: PresenceStatus, now: float, timing: Timing
) -> UserState:
    """An explicit status update. Raises RateLimited (and changes nothing) when too soon."""
    devices = dict(state.devices)
    if status is OFFLINE:
        # Never limited; ends the device at once and opens its rate window.
        devices.pop(device_id, None)
        offline_at = {**state.offline_at, device_id: now}
        return replace(state, devices=devices, offline_at=offline_at, last_seen=now)
    current = devices.get(device_id)
    previous = max(
        current.status_at if current is not None and current.status_at is not None else -math.inf,
        state.offline_at.get(device_id, -math.inf),
    )
    ready_at = previous + timing.status_min_interval
    if now < ready_at:
        raise RateLimited(max(1, math.ceil(ready_at - now)))
    offline_at = state.offline_at
    if device_id in offline_at:
        offline_at = {k: at for k, at in offline_at.items() if k != device_id} or NONE
    has_socket = state.sockets.get(device_id, 0) > 0
    expires_at = None if has_socket else now + timing.ttl(status)
    devices[device_id] = Device(status, now, expires_at, status_at=now)
    return replace(state, devices=devices, offline_at=offline_at, last_seen=now)


def touch(state: UserState, device_id: str, now: float, timing: Timing) -> UserState:
    """Activity extends a live device; a device with no live status stays absent."""
    device = state.devices.get(device_id)
    if device is None:
        return state
    has_socket = state.sockets.get(device_id, 0) > 0
    expires_at = None if has_socket else now + timing.ttl(device.status)
    device = replace(device, last_activity=now, expires_at=expires_at)
    return replace(state, devices={**state.devices, device_id: device}, last_seen=now)


def connect(state: UserState, device_id: str, now: float) -> UserState:
    """A socket opens: the device lives while it is open, and comes online if it had no status."""
    sockets = {**state.sockets, device_id: state.sockets.get(device_id, 0) + 1}
    device = state.devices.get(device_id)
    if device is None:
        device = Device(ONLINE, now, None)
    else:
        device = replace(device, last_activity=now, expires_at=None)
    devices = {**state.devices, device_id: device}
    return replace(state, devices=devices, sockets=sockets, last_seen=now)


def disconnect(state: UserState, device_id: str, now: float, timing: Timing) -> UserState:
    """A socket closes (counts as activity); after the last one the device lives on a while."""
    open_sockets = state.sockets.get(device_id, 0)
    if open_sockets <= 0:
        return state
    sockets = dict(state.sockets)
    if open_sockets == 1:
        del sockets[device_id]
    else:
        sockets[device_id] = open_sockets - 1
    sockets = sockets or NONE
    device = state.devices.get(device_id)
    if device is None:
        return replace(state, sockets=sockets)
    expires_at = None
    if device_id not in sockets:
        expires_at = now + timing.after_last_socket(device.status)
    device = replace(device, last_activity=now, expires_at=expires_at)
    devices = {**state.devices, device_id: device}
    return replace(state, devices=devices, sockets=sockets, last_seen=now)


def next_deadline(state: UserState, timing: Timing = DEFAULT_TIMING) -> float | None:
    """When the next device expires or rate window closes (wall time); None if nothing is."""
    deadlines = [d.expires_at for d in state.devices.values() if d.expires_at is not None]
    deadlines.extend(at + timing.status_min_interval for at in state.offline_at.values())
    return min(deadlines) if deadlines else None


def is_idle(state: UserState) -> bool:
    """Nothing live and nothing pending: the actor may persist and stop."""
    return not state.devices and not state.sockets and not state.offline_at
