"""What every actor shares: the store, the clock, the limits, and the published views.

Actors own their state; what others read lives here, each view with one writer:
- `board`: the latest record of every live user actor (user actors' `Publish`/`Withdraw`
  effects), read by `reads.py` and by a user actor rebuilding after being given up;
- `typing`: who types where (conversation actors' `Publish` effects);
- `subscribers`: each open socket's outbox by user (`subscriptions.py`), read by fan-out;
- `directory`: the current snapshot (`DirectoryCache`);
- `counters`: for `statistics()`.
All of it is touched only from the one trio thread, between checkpoints: no locks.
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
