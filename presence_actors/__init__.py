"""presence-actors core: every user and conversation with live state is a supervised trio
actor that owns its state and its deadlines. No HTTP and no SQL in this package."""

from .clock import WallClock
from .conversation_rules import TypingResult
from .directory import Directory
from .directory_cache import DirectoryCache
from .directory_diff import DirectoryDiff
from .directory_pushes import DirectoryPushes
from .errors import ActorUnavailable, NotFound, PresenceError, RateLimited, TooManySockets
from .fanout import Subscribers
from .memory_store import MemoryStore
from .model import (
    PresenceRecord,
    PresenceStatus,
    PresenceView,
    TypingRecord,
    format_time,
    parse_time,
)
from .outbox import Outbox, presence_key, typing_key
from .ports import DirectoryData, PresenceStore
from .service import PresenceService, ServiceStatistics, open_presence
from .subscriptions import Subscription
from .supervisor import Supervisor
from .timing import Timing
from .wire import (
    initial_state_frame,
    presence_removed_frame,
    presence_update_frame,
    typing_update_frame,
)

__all__ = [
    "ActorUnavailable",
    "Directory",
    "DirectoryCache",
    "DirectoryData",
    "DirectoryDiff",
    "DirectoryPushes",
    "MemoryStore",
    "NotFound",
    "Outbox",
    "PresenceError",
    "PresenceRecord",
    "PresenceService",
    "PresenceStatus",
    "PresenceStore",
    "PresenceView",
    "RateLimited",
    "ServiceStatistics",
    "Subscribers",
    "Subscription",
    "Supervisor",
    "Timing",
    "TooManySockets",
    "TypingRecord",
    "TypingResult",
    "WallClock",
    "format_time",
    "initial_state_frame",
    "open_presence",
    "parse_time",
    "presence_key",
    "presence_removed_frame",
    "presence_update_frame",
    "typing_key",
    "typing_update_frame",
]
