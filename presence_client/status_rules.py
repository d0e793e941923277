"""When to send a status update: the rate-limit queue, the heartbeat, the offline hold.

Pure rules over an immutable `StatusState`, `now` passed in (trio time). The seed's
client rules: at most one update per `status_min_interval` (later requests queue and the
latest wins; `offline` is never held back, as the server never limits it); an update
that fails for want of a network is kept and sent after the next call that succeeds; in
the foreground a heartbeat re-sends the current status every `heartbeat_interval`, which
keeps the device alive under the server's online TTL and probes for the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .models import PresenceStatus
from .timing import ClientTiming


@dataclass(frozen=True)
class StatusState:
    desired: PresenceStatus | None = None  # the latest status asked for
    unsent: bool = False  # `desired` has not been accepted yet
    held: bool = False  # the last attempt had no answer: wait for a call that succeeds
    not_before: float = -math.inf  # the rate limit: no non-offline update before this
    heartbeat_at: float | None = None  # None: no heartbeat (background, logged out)


def request(state: StatusState, status: PresenceStatus) -> StatusState:
    """The app asks for `status`: it replaces whatever was queued (latest wins)."""
    return replace(state, desired=status, unsent=True)


def due_at(state: StatusState) -> float | None:
    """When the next update should go out, or None when nothing is due."""
    if state.desired is None:
        return None
    times = []
    if state.unsent and not state.held:
        times.append(-math.inf if state.desired is PresenceStatus.OFFLINE else state.not_before)
    if state.heartbeat_at is not None and state.desired is not PresenceStatus.OFFLINE:
        times.append(max(state.heartbeat_at, state.not_before))
    return min(times, default=None)


def accepted(state: StatusState, sent: PresenceStatus, now: float,
             timing: ClientTiming) -> StatusState:
    """A 200: the window opens again in `status_min_interval`; a newer request stays queued."""
    return replace(
        state,
        unsent=state.unsent and state.desired is not sent,
        held=False,
        not_before=now + timing.status_min_interval,
        heartbeat_at=_next_beat(state, now, timing),
    )


def rate_limited(state: StatusState, retry_after: float, now: float) -> StatusState:
    """A 429: the server's `Retry-After` moves the window; the update stays queued."""
    return replace(state, not_before=max(state.not_before, now + retry_after))


def failed(state: StatusState, now: float, timing: ClientTiming) -> StatusState:
    """No answer (or a 5xx): keep the update in memory until a call succeeds."""
    return replace(state, unsent=True, held=True, heartbeat_at=_next_beat(state, now, timing))


def dropped(state: StatusState, sent: PresenceStatus, now: float,
            timing: ClientTiming) -> StatusState:
    """The server refused the update for good (a 4xx other than 401/429): do not resend it."""
    return replace(state, unsent=state.unsent and state.desired is not sent,
                   heartbeat_at=_next_beat(state, now, timing))


def network_back(state: StatusState) -> StatusState:
    """Another call succeeded: what was held for want of a network may go now."""
    return replace(state, held=False)


def heartbeat(state: StatusState, now: float, timing: ClientTiming, on: bool) -> StatusState:
    """Start (the first beat one interval from now) or stop the heartbeat."""
    if not on:
        return replace(state, heartbeat_at=None)
    if state.heartbeat_at is not None:
        return state
    return replace(state, heartbeat_at=now + timing.heartbeat_interval)


def beat_soon(state: StatusState, now: float, timing: ClientTiming) -> StatusState:
    """The socket dropped: the next heartbeat is due `reconnect_base` from now, with the
    first reconnect attempt (the rate limit still applies). Not at once: sent in the
    instant of the close, it can reach the server before the close does, and then the
    close's grace, not the heartbeat's online TTL, sets when the device expires."""
    if state.heartbeat_at is None:
        return state
    return replace(state, heartbeat_at=min(state.heartbeat_at, now + timing.reconnect_base))


def forget(state: StatusState) -> StatusState:
    """Logout: nothing is queued, nothing beats; the rate window still holds."""
    return StatusState(not_before=state.not_before)


def _next_beat(state: StatusState, now: float, timing: ClientTiming) -> float | None:
    return None if state.heartbeat_at is None else now + timing.heartbeat_interval
