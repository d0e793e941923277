"""The errors the core raises to its callers; the web layer maps each to one status code."""

from __future__ import annotations


class PresenceError(Exception):
    """Base of every error the core reports to a caller."""


class NotFound(PresenceError):
    """Unknown or invisible (they look alike on purpose): 404."""


class RateLimited(PresenceError):
    """Too soon; nothing changed. `retry_after` is whole seconds, at least 1: 429."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited, retry after {retry_after} s")
        self.retry_after = retry_after


class TooManyDevices(RateLimited):
    """A status update from a new device of a user who has `max_devices_per_user` live
    devices: 429, `retry_after` until the first of them can expire."""


class ActorUnavailable(PresenceError):
    """The actor's mailbox is full, it failed on this request, or it did not answer: 503."""


class TooManySockets(PresenceError):
    """The user already has the maximum number of open subscriptions: 429."""
