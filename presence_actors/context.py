"""What every actor shares: the store, the clock, the limits, and the published views.

Actors own their state; what they publish for others to read lives here: the presence
board (latest record of every live user actor), the typing index, the subscribers, the
current directory snapshot, and counters. All of it is touched only from the one trio
thread, between checkpoints, so no locks are needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .clock import WallClock
from .directory import Directory
from .fanout import Subscribers
from .model import PresenceRecord
from .ports import PresenceStore
from .timing import Timing
from .typing_index import TypingIndex


@dataclass(slots=True)
class Counters:
    presence_pushes: int = 0
    typing_pushes: int = 0
    deliveries: int = 0
    rate_limited: int = 0
    rejected_busy: int = 0


@dataclass(slots=True)
class ActorContext:
    store: PresenceStore
    clock: WallClock
    timing: Timing
    directory: Directory = field(default_factory=Directory.empty)
    subscribers: Subscribers = field(default_factory=Subscribers)
    board: dict[int, PresenceRecord] = field(default_factory=dict)
    typing: TypingIndex = field(default_factory=TypingIndex)
    counters: Counters = field(default_factory=Counters)
