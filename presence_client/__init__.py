"""presence_client: the Python client of presence-actors (SPEC §14), on trio.

The seed's iOS `PresenceManager` behaviour — lifecycle, the 5 s status queue, the offline
hold, reconnect with backoff, auth errors, login/logout, the typing debounce — plus an
observable local view of every visible user's presence. See docs/client.md.
"""

from .api import Outcome, PresenceApi, PresenceApiError
from .manager import (
    AppState,
    PresenceManager,
    SessionState,
    new_device_id,
    open_presence_manager,
)
from .models import (
    ConnectionChanged,
    FrameError,
    PresenceChanged,
    PresenceEvent,
    PresenceRemoved,
    PresenceStatus,
    SessionExpired,
    TypingChanged,
    UserPresence,
    ViewSynced,
    parse_datetime,
)
from .network import NetworkTransport
from .timing import ClientTiming
from .transport import (
    HttpResponse,
    SocketClosed,
    Transport,
    TransportError,
    UpgradeRejected,
    WebSocket,
)
from .view import EventStream, LocalView

__all__ = [
    "AppState",
    "ClientTiming",
    "ConnectionChanged",
    "EventStream",
    "FrameError",
    "HttpResponse",
    "LocalView",
    "NetworkTransport",
    "Outcome",
    "PresenceApi",
    "PresenceApiError",
    "PresenceChanged",
    "PresenceEvent",
    "PresenceManager",
    "PresenceRemoved",
    "PresenceStatus",
    "SessionExpired",
    "SessionState",
    "SocketClosed",
    "Transport",
    "TransportError",
    "TypingChanged",
    "UpgradeRejected",
    "UserPresence",
    "ViewSynced",
    "WebSocket",
    "new_device_id",
    "open_presence_manager",
    "parse_datetime",
]
