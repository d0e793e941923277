"""The domain vocabulary: statuses, records and what a read shows.

Everything here is immutable data. Times are wall-clock UTC epoch seconds (floats); the
only place they become text is `format_time`, which renders the seed's ISO 8601 form with
whole seconds and a `Z` suffix (Swift's default decoder rejects fractional seconds).
"""

from __future__ import annotations

import enum
import functools
import math
from dataclasses import dataclass
from datetime import UTC, datetime


class PresenceStatus(enum.StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"

    @property
    def rank(self) -> int:
        """Higher wins when devices are aggregated: online > away > offline."""
        return _RANK[self]


_RANK = {PresenceStatus.OFFLINE: 0, PresenceStatus.AWAY: 1, PresenceStatus.ONLINE: 2}


def format_time(epoch: float | None) -> str | None:
    """ISO 8601 UTC, whole seconds (floored), `Z` suffix; None stays None."""
    if epoch is None:
        return None
    return _format_second(math.floor(epoch))


@functools.lru_cache(maxsize=256)
def _format_second(second: int) -> str:
    """Every push of a busy second renders the same few seconds: format each once (F4's
    profile had `strftime` at 3 % of the node's CPU)."""
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    """Inverse of `format_time` (accepts any ISO 8601 with an offset or `Z`)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@dataclass(frozen=True, slots=True)
class PresenceRecord:
    """A user's aggregate presence: what is pushed, persisted and read."""

    user_id: int
    status: PresenceStatus
    last_seen: float | None

    def as_json(self) -> dict:
        return {
            "user_id": self.user_id,
            "status": self.status.value,
            "last_seen": format_time(self.last_seen),
        }


@dataclass(frozen=True, slots=True)
class PresenceView:
    """One user as a presence read shows it to one viewer: the record, plus whether the
    user is typing in a conversation the viewer is in (SPEC §6). Its JSON is the one GET
    shape; `initial_state` lists the same objects."""

    record: PresenceRecord
    is_typing: bool

    @property
    def user_id(self) -> int:
        return self.record.user_id

    @property
    def status(self) -> PresenceStatus:
        return self.record.status

    @property
    def last_seen(self) -> float | None:
        return self.record.last_seen

    def as_json(self) -> dict:
        return {**self.record.as_json(), "is_typing": self.is_typing}


@dataclass(frozen=True, slots=True)
class TypingRecord:
    user_id: int
    conversation_id: int
    is_typing: bool

    def as_json(self) -> dict:
        return {
            "user_id": self.user_id,
            "conversation_id": self.conversation_id,
            "is_typing": self.is_typing,
        }
