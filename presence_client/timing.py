"""The client's timing knobs, with the seed's defaults (constructor parameters, SPEC §14)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientTiming:
    """Seconds. Each default is the seed's number or follows from the server's (SPEC §12).

    Tests against a server with short timings pass matching short values here.
    """

    status_min_interval: float = 5.0  # the server's per-device status rate limit
    heartbeat_interval: float = 30.0  # half the server's 60 s online TTL
    reconnect_base: float = 1.0  # backoff min(reconnect_max, reconnect_base * 2^attempt);
    # also the wait from a lost socket to the heartbeat that takes over (status_rules.beat_soon)
    reconnect_max: float = 16.0
    healthy_after: float = 10.0  # a connection up this long resets the backoff
    typing_idle: float = 3.0  # `false` after this long without a keystroke
    typing_min_interval: float = 2.0  # at most one typing request per conversation per this
    request_timeout: float = 10.0  # an HTTP request or WebSocket connect without answer fails

    def reconnect_delay(self, attempt: int) -> float:
        """The seed's `min(16, 2^attempt)` seconds, scaled by `reconnect_base`."""
        return min(self.reconnect_max, self.reconnect_base * 2.0 ** min(attempt, 32))
