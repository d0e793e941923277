"""The seed's client models (`UserPresence`; `PresenceStatus` is the core's) and events.

Dates arrive as ISO 8601 UTC with whole seconds and a `Z` suffix (SPEC §7); they are
parsed into timezone-aware `datetime`s so a caller never compares naive and aware times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from presence_actors import PresenceStatus  # one enum for the wire values, server and client


class FrameError(ValueError):
    """A server message or response body that does not have the documented shape."""


def parse_datetime(value: object) -> datetime | None:
    """`"2024-01-01T12:00:00Z"` as an aware UTC datetime; `None` stays `None` (never seen).

    Raises:
        FrameError: the value is not an ISO 8601 string with a timezone.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise FrameError(f"expected an ISO 8601 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FrameError(f"expected an ISO 8601 time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise FrameError(f"time without a timezone: {value!r}")
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class UserPresence:
    """One user's presence as the seed's `UserPresence`: the GET shape, parsed."""

    user_id: int
    status: PresenceStatus
    last_seen: datetime | None
    is_typing: bool = False

    @classmethod
    def from_json(cls, data: object) -> UserPresence:
        """Parse `{"user_id", "status", "last_seen"[, "is_typing"]}`.

        Raises:
            FrameError: a field is missing or has the wrong type.
        """
        if not isinstance(data, dict):
            raise FrameError(f"expected a presence object, got {data!r}")
        try:
            user_id, status = data["user_id"], PresenceStatus(data["status"])
        except (KeyError, ValueError) as error:
            raise FrameError(f"bad presence {data!r}: {error}") from None
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise FrameError(f"bad user_id in {data!r}")
        return cls(user_id, status, parse_datetime(data.get("last_seen")),
                   bool(data.get("is_typing", False)))


# The events a LocalView publishes, one closed set.


@dataclass(frozen=True)
class PresenceChanged:
    """A visible user's presence is new or different (status, last_seen or is_typing)."""

    presence: UserPresence
    previous: UserPresence | None


@dataclass(frozen=True)
class PresenceRemoved:
    """The user is no longer visible (`presence_removed`), or the view was cleared."""

    user_id: int


@dataclass(frozen=True)
class TypingChanged:
    """Someone started or stopped typing in one of the subscriber's conversations."""

    user_id: int
    conversation_id: int
    is_typing: bool


@dataclass(frozen=True)
class ViewSynced:
    """An `initial_state` was applied: the view matches the server as of now."""

    user_count: int


@dataclass(frozen=True)
class ConnectionChanged:
    """The push channel came up, or went down (`retry_in`: seconds to the next attempt)."""

    connected: bool
    retry_in: float | None = None


@dataclass(frozen=True)
class SessionExpired:
    """A 401, or a close 4401 or 4403: every update stops until `handle_login(token)`."""

    reason: str


PresenceEvent = (
    PresenceChanged | PresenceRemoved | TypingChanged | ViewSynced | ConnectionChanged
    | SessionExpired
)
