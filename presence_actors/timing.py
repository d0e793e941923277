"""The actors' timeouts and limits, in one immutable value.

SPEC §5 (device lifetimes, the status rate window), §6 (typing expiry and bucket), the
socket cap of §8 and the directory refresh of §4, plus the core's own knobs (mailbox size,
restart intensity, the reply deadline, the refresh throttle). The socket deadlines of §8
(write timeout, dead peer) belong to the WebSocket session and live in `web/config.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import PresenceStatus


@dataclass(frozen=True, slots=True)
class Timing:
    online_ttl: float = 60.0  # device lifetime after its last activity, while online
    away_ttl: float = 600.0  # ... while away (also after its last socket closes)
    disconnect_grace: float = 10.0  # an online device outlives its last socket this long
    status_min_interval: float = 5.0  # per (user, device); offline is exempt; 0: limits off
    typing_ttl: float = 5.0
    typing_burst: int = 5  # per (user, conversation) token bucket
    typing_rate: float = 1.0  # tokens per second
    request_timeout: float = 5.0  # how long a caller waits for an actor's reply
    mailbox_size: int = 256
    max_sockets_per_user: int = 20
    # Live devices; a new one beyond is 429 (issue 8.12). As many as sockets: the browser
    # module makes one device per tab, and every socket a user may open can be a device.
    max_devices_per_user: int = 20
    user_status_burst: int = 10  # status updates per user, all devices together ...
    user_status_rate: float = 1.0  # ... per second sustained (offline exempt; off with the above)
    directory_poll: float = 0.5  # read the store's directory version this often (0: never)
    directory_refresh: float = 30.0  # reload period of a store without a version (SPEC §4)
    directory_min_refresh: float = 1.0  # a denied lookup reloads at most this often
    max_restarts: int = 3  # per actor within restart_period, then it is given up
    restart_period: float = 10.0

    def ttl(self, status: PresenceStatus) -> float:
        return self.online_ttl if status is PresenceStatus.ONLINE else self.away_ttl

    def after_last_socket(self, status: PresenceStatus) -> float:
        return self.disconnect_grace if status is PresenceStatus.ONLINE else self.away_ttl
